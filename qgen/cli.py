"""The ``qgen`` command: build, check, lock, list, schedules, setup (aliases: migrate, sqs
create-queues), dashboard, and the operator commands of ``cli_ops`` (queues, jobs, dlq,
workers).

Diagnostics go to stderr as ``path:line:col: QG### message`` (all of them, sorted); summaries
go to stdout. Exit codes: 0 success, 1 ``check`` found stale output or a breaking schema change
against qgen.lock.json, 2 errors (a warning counts as an error under ``--fail-on-warning``).
Never a traceback: an unexpected failure prints one ``qgen: internal error`` line and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from qgen import cli_setup
from qgen.cli_common import EPILOG, print_diags, project_args, project_config
from qgen.config import Config

# Commands whose parser is built alone: the others' modules (operator commands, dashboard) import
# the runtime, which a warm `qgen build` never needs (start-up is most of its time).
_CODEGEN_COMMANDS = ("build", "check", "lock", "list")


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qgen",
        description="Typed background queues: scan job functions, generate schemas, a typed "
        "client and worker entry points.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _build_parsers(sub)
    lock = sub.add_parser(
        "lock",
        help="record the queues' schemas in qgen.lock.json (accepts breaking changes)",
        description="Write qgen.lock.json: every queue's input and output schema and a version, "
        "bumped for each changed queue, then rebuild. `qgen check` fails on changes that break "
        "queued jobs or deployed callers until they are locked.",
        epilog=EPILOG,
    )
    project_args(lock)
    lst = sub.add_parser(
        "list",
        help="show a table of the project's queues",
        description="Show every queue: function, input and output types, config and the "
        "warnings per backend.",
        epilog=EPILOG,
    )
    project_args(lst)
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    first = list(sys.argv[1:] if argv is None else argv)[:1]
    if first and first[0] in _CODEGEN_COMMANDS:
        return parser
    from qgen import cli_ops, cli_schedules

    cli_setup.add_parsers(sub)
    cli_schedules.add_parser(sub)
    _dashboard_parser(sub)
    cli_ops.add_parsers(sub)
    return parser


def _build_parsers(sub: Any) -> None:
    """``build`` and ``check``."""
    build = sub.add_parser(
        "build",
        help="generate the output package",
        description="Scan the source packages and write the output package. Bad input leaves "
        "the previous output untouched; nothing is rewritten when nothing changed.",
        epilog=EPILOG,
    )
    project_args(build)
    build.add_argument(
        "--fail-on-warning",
        action="store_true",
        help="treat warnings as errors: exit 2 and write nothing",
    )
    build.add_argument(
        "--force", action="store_true", help="render even if the inputs are unchanged"
    )
    build.add_argument("--timings", action="store_true", help="print the time of each phase")
    check = sub.add_parser(
        "check",
        help="exit 1 with a diff if the generated output is stale (for CI)",
        description="Render in memory and compare with the files on disk: exit 0 fresh, 1 stale "
        "(a unified diff and the missing/extra files are printed), 2 on errors.",
        epilog=EPILOG,
    )
    project_args(check)
    check.add_argument(
        "--fail-on-warning",
        action="store_true",
        help="treat warnings as errors: exit 2 and write nothing",
    )
    check.add_argument(
        "--explain",
        action="store_true",
        help="also list the compatible schema changes since qgen.lock.json",
    )
    check.add_argument(
        "--url",
        metavar="URL",
        help="also validate the jobs waiting or delayed in this live backend against the "
        "build's input types: exit 1 when any would fail (nothing is consumed)",
    )


def _dashboard_parser(sub: Any) -> None:
    dashboard = sub.add_parser(
        "dashboard",
        help="serve a web page over the queues (needs the dashboard extra)",
        description="Serve the dashboard of the built project on 127.0.0.1:8077: queues, jobs "
        "and an add-a-job form generated from each queue's schema.",
    )
    project_args(dashboard)
    from qgen.dashboard.command import add_arguments

    add_arguments(dashboard)


def _config(args: argparse.Namespace, err: TextIO) -> Config | None:
    config, diags = project_config(args)
    print_diags(diags, err)
    return config


def _cmd_build(args: argparse.Namespace, out: TextIO, err: TextIO, check: bool) -> int:
    from qgen.codegen.build import run

    config = _config(args, err)
    if config is None:
        return 2
    outcome = run(
        config,
        check=check,
        fail_on_warning=args.fail_on_warning,
        force=getattr(args, "force", False),
        jobs=args.jobs,
    )
    print_diags(outcome.diagnostics, err)
    for line in outcome.replayed:
        print(line, file=err)
    if outcome.diff:
        out.write(outcome.diff)
    for line in outcome.lines:
        print(line, file=out)
    if check and outcome.exit_code != 2 and outcome.project is not None:
        from qgen.codegen.lock_commands import check_lock

        locked = check_lock(config, outcome.project, explain=args.explain, out=out, err=err)
        stale = outcome.exit_code == 1
        outcome.exit_code = max(outcome.exit_code, locked)
        if args.url:  # the runtime is imported only for this
            from qgen.cli_check_url import check_url

            live = check_url(config, args.url, out, err, stale=stale)
            outcome.exit_code = max(outcome.exit_code, live)
    if getattr(args, "timings", False):
        from qgen.codegen.render import TIMINGS

        print("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in TIMINGS.items()), file=out)
    return outcome.exit_code


def _short(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _cmd_list(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from qgen.codegen.build import analyse
    from qgen.diagnostics import has_errors

    config = _config(args, err)
    if config is None:
        return 2
    outcome = analyse(config, jobs=args.jobs)
    print_diags(outcome.diagnostics, err)
    if has_errors(outcome.diagnostics) or outcome.project is None:
        return 2
    rows: list[dict[str, Any]] = []
    for q in outcome.project.queues:
        warn = outcome.warnings.get(q.name, {})
        rows.append(
            {
                "queue": q.name,
                "function": q.function.import_path,
                "input": q.function.input_type,
                "output": q.function.output_type if q.function.output_schema else "None",
                "config": q.config,
                "warnings": {b: w for b, w in sorted(warn.items()) if w},
                **_schedules_of(outcome.project, q.name),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("no queues found", file=out)
        return 0
    headers = ["QUEUE", "FUNCTION", "INPUT -> OUTPUT"]
    table = [[r["queue"], r["function"], f"{r['input']} -> {r['output']}"] for r in rows]
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    pad = " " * (widths[0] + 2)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(), file=out)
    for r, line in zip(rows, table, strict=True):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip(), file=out)
        settings = " ".join(f"{k}={_short(v)}" for k, v in sorted(r["config"].items()))
        print(f"{pad}config: {settings or '-'}", file=out)
        counts = ", ".join(f"{b} {len(w)}" for b, w in r["warnings"].items()) or "none"
        print(f"{pad}warnings: {counts}", file=out)
        for name, sched in r.get("schedules", {}).items():
            print(f"{pad}schedule {name}: {_when(sched)}", file=out)
    details = [(r["queue"], b, w) for r in rows for b, ws in r["warnings"].items() for w in ws]
    if details:
        print("", file=out)
        for queue, backend, text in details:
            print(f"{queue} [{backend}]: {text}", file=out)
    return 0


def _schedules_of(project: Any, queue: str) -> dict[str, Any]:
    """``{"schedules": {name: entry}}`` for a queue with schedules, else nothing."""
    found = {s.name: s.to_json() for s in project.schedules if s.queue == queue}
    return {"schedules": found} if found else {}


def _when(sched: dict[str, Any]) -> str:
    if sched["cron"] is not None:
        return f"cron {sched['cron']} ({sched['tz']}) data={_short(sched['data'])}"
    return f"every {sched['every_ms']} ms data={_short(sched['data'])}"


def _cmd_lock(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from qgen.codegen.lock_commands import run_lock

    config = _config(args, err)
    return 2 if config is None else run_lock(config, jobs=args.jobs, out=out, err=err)


def _cmd_dashboard(args: argparse.Namespace, err: TextIO) -> int:
    from qgen.dashboard.command import run

    config = _config(args, err)
    return 2 if config is None else run(args, config.out_dir / "manifest.json", err)


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = _parser(argv).parse_args(argv)
        if args.command in ("build", "check"):
            return _cmd_build(args, out, err, check=args.command == "check")
        if args.command == "list":
            return _cmd_list(args, out, err)
        if args.command == "schedules":
            from qgen import cli_schedules

            return cli_schedules.run(args, out, err)
        if args.command == "setup":
            return cli_setup.cmd_setup(args, out, err)
        if args.command == "lock":
            return _cmd_lock(args, out, err)
        if args.command == "migrate":
            return cli_setup.cmd_migrate(args, out, err)
        if args.command == "dashboard":
            return _cmd_dashboard(args, err)
        from qgen import cli_ops

        if args.command in cli_ops.COMMANDS:
            return cli_ops.run(args, out, err)
        return cli_setup.cmd_sqs_create(args, out, err)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("qgen: interrupted", file=err)
        return 2
    except Exception as exc:
        from qgen.runtime.errors import QgenError

        if isinstance(exc, QgenError):
            print(f"qgen: {exc}", file=err)
        else:
            print(f"qgen: internal error: {type(exc).__name__}: {exc}", file=err)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

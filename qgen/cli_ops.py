"""The operator commands, for the people on call (issue 14):

    qgen queues [--json]                                every queue: counts per status, paused
    qgen queues pause|resume QUEUE
    qgen queues clean QUEUE --status S [--older-than 7d] [--keep N]
    qgen jobs ls QUEUE [--status S] [--limit N] [--cursor C]
    qgen jobs show QUEUE ID
    qgen jobs retry QUEUE (ID | --all-failed [--limit N])
    qgen jobs cancel QUEUE ID
    qgen dlq redrive QUEUE [--limit N] [--dry-run]
    qgen workers [--queue Q]

They go through the built project's generated client (found through ``manifest.json``), so
queue names, statuses and redrive validation are those of the build. The URL: ``--url``, else
``$QGEN_URL``, else the project's embedded file, as the workers resolve it. Exit codes: 0 done;
1 the command ran but its target was not there or not in a state for it (no such job, a
cancel of a finished job, a retry of a job that did not fail, dead letters left behind by a
redrive); 2 errors, among them an operation the backend cannot do (the capability table's
reason is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from qgen import cli_render as render
from qgen.cli_common import print_diags, project_args, project_config
from qgen.runtime.capabilities import Feature
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.errors import ConfigError, JobNotFound
from qgen.runtime.jobviews import job_json
from qgen.runtime.manifest import Manifest, load_manifest
from qgen.runtime.queue_ops import backend_for

COMMANDS = ("queues", "jobs", "dlq", "workers")
STATUSES = ("waiting", "delayed", "active", "completed", "failed", "discarded", "cancelled")
FINISHED = ("completed", "failed", "discarded", "cancelled")
EPILOG = (
    "The URL: --url, else $QGEN_URL, else the project's embedded file. Exit codes: 0 done, "
    "1 not found or not in a state for it, 2 errors (an operation the backend cannot do says why)."
)


def _common(p: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """--url, --json and the project options. On an action their defaults are suppressed, so
    an option given before the action (``qgen jobs --url U ls Q``) is not reset by it."""
    if not nested:
        p.add_argument("--url", help="backend URL (default: $QGEN_URL, else the project's file)")
        p.add_argument("--json", action="store_true", help="print JSON instead of a table")
        project_args(p)
        return
    hidden: Any = argparse.SUPPRESS
    p.add_argument(
        "--url", default=hidden, help="backend URL (default: $QGEN_URL, else the project's file)"
    )
    p.add_argument("--json", action="store_true", default=hidden, help="print JSON")
    p.add_argument(
        "--project",
        metavar="DIR",
        type=Path,
        default=hidden,
        help="start the pyproject.toml search here",
    )
    p.add_argument("--out", metavar="DIR", default=hidden, help="the output package directory")


def _sub(parent: Any, name: str, help: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = parent.add_parser(name, help=help, description=help, epilog=EPILOG)
    _common(p, nested=True)
    return p


def add_parsers(sub: Any) -> None:
    _queues_parsers(sub)
    _jobs_parsers(sub)
    _dlq_and_workers_parsers(sub)


def _queues_parsers(sub: Any) -> None:
    queues = sub.add_parser(
        "queues",
        help="the queues' counts per status; pause, resume, clean",
        description="Every queue of the build with its jobs per status and "
        "paused state; or act on one queue.",
        epilog=EPILOG,
    )
    _common(queues)
    qsub = queues.add_subparsers(dest="queues_command", metavar="ACTION")
    for action, text in (
        ("pause", "workers stop taking new jobs of QUEUE (running ones finish)"),
        ("resume", "workers take jobs of QUEUE again"),
    ):
        _sub(qsub, action, text).add_argument("queue", metavar="QUEUE")
    clean = _sub(qsub, "clean", "delete finished jobs of QUEUE by status, age and count")
    clean.add_argument("queue", metavar="QUEUE")
    clean.add_argument("--status", required=True, choices=FINISHED)
    clean.add_argument("--older-than", metavar="AGE", help="only jobs finished before, e.g. 7d")
    clean.add_argument("--keep", type=int, metavar="N", help="keep the newest N")


def _jobs_parsers(sub: Any) -> None:
    jobs = sub.add_parser(
        "jobs",
        help="list, show, retry and cancel jobs",
        description="Jobs of one queue.",
        epilog=EPILOG,
    )
    _common(jobs)
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = _sub(jsub, "ls", "list jobs of QUEUE in one status, newest first")
    ls.add_argument("queue", metavar="QUEUE")
    ls.add_argument("--status", default="waiting", choices=STATUSES)
    ls.add_argument("--limit", type=int, default=50, metavar="N")
    ls.add_argument("--cursor", metavar="C", help="the cursor printed under the previous page")
    for action, text in (
        ("show", "everything about one job: data, result, error, times"),
        ("cancel", "cancel one job (a running one is asked to stop)"),
    ):
        p = _sub(jsub, action, text)
        p.add_argument("queue", metavar="QUEUE")
        p.add_argument("job_id", metavar="ID")
    retry = _sub(jsub, "retry", "run a failed, discarded or cancelled job again")
    retry.add_argument("queue", metavar="QUEUE")
    retry.add_argument("job_id", metavar="ID", nargs="?")
    retry.add_argument("--all-failed", action="store_true", help="every failed job of QUEUE")
    retry.add_argument("--limit", type=int, metavar="N", help="with --all-failed: at most N")


def _dlq_and_workers_parsers(sub: Any) -> None:
    dlq = sub.add_parser(
        "dlq", help="dead letters", description="Dead-letter queues.", epilog=EPILOG
    )
    _common(dlq)
    dsub = dlq.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    redrive = _sub(dsub, "redrive", "move QUEUE's dead letters back to it, validated first")
    redrive.add_argument("queue", metavar="QUEUE", help="the queue whose dead letters to move")
    redrive.add_argument("--limit", type=int, metavar="N")
    redrive.add_argument("--dry-run", action="store_true", help="only say what would move")

    workers = sub.add_parser(
        "workers",
        help="the worker processes seen in the last 30 s",
        description="Worker processes by heartbeat.",
        epilog=EPILOG,
    )
    _common(workers)
    workers.add_argument("--queue", metavar="Q", help="only the workers of this queue")


# -- running ---------------------------------------------------------------------------------


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one operator command (``args.command`` in :data:`COMMANDS`)."""
    manifest = _manifest(args, err)
    if manifest is None:
        return 2
    url = args.url or os.environ.get("QGEN_URL") or manifest.default_url
    if url == manifest.default_url and not (manifest.project_root / ".qgen").is_dir():
        print(
            f"qgen: no queue file yet at {url} (no worker or client has used it; "
            "pass --url or set QGEN_URL)",
            file=err,
        )
        return 2
    client = _client_class(manifest)(url)
    command = _COMMANDS[_name(args)]
    return asyncio.run(_with_client(client, command, args, out))


async def _with_client(
    client: AsyncClientBase, command: Command, args: argparse.Namespace, out: TextIO
) -> int:
    try:
        return await command(client, args, out)
    finally:
        await client.close()


def _name(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else args.command


def _manifest(args: argparse.Namespace, err: TextIO) -> Manifest | None:
    config, diags = project_config(args)
    if config is None:
        print_diags(diags, err)
        return None
    return load_manifest(config.out_dir / "manifest.json")


def _client_class(manifest: Manifest) -> type[AsyncClientBase]:
    from qgen.runtime.project_client import client_class

    return client_class(manifest)


Command = Callable[[AsyncClientBase, argparse.Namespace, TextIO], Awaitable[int]]


async def _queues(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    rows = []
    for name in client.QUEUES:
        rows.append((name, await client.queue(name).counts()))
    if args.json:
        render.print_json([{"queue": n, **c.as_dict()} for n, c in rows], out)
    else:
        render.table(render.COUNT_HEADERS, [render.counts_row(n, c) for n, c in rows], out)
    return 0


async def _pause(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    q = client.queue(args.queue)
    await (q.pause() if args.queues_command == "pause" else q.resume())
    paused = await q.is_paused()
    if args.json:
        render.print_json({"queue": q.name, "paused": paused}, out)
    else:
        print(f"{q.name}: {'paused' if paused else 'running'}", file=out)
    return 0


async def _clean(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    age = None if args.older_than is None else render.parse_duration(args.older_than)
    deleted = await client.queue(args.queue).clean(args.status, older_than=age, keep=args.keep)
    if args.json:
        render.print_json({"queue": args.queue, "status": args.status, "deleted": deleted}, out)
    else:
        print(f"{args.queue}: deleted {deleted} {args.status} job(s)", file=out)
    return 0


async def _ls(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    page = await client.queue(args.queue).jobs(args.status, args.limit, args.cursor)
    infos = [view.info for view in page.jobs]
    if args.json:
        render.print_json(
            {"jobs": [job_json(i) for i in infos], "next_cursor": page.next_cursor}, out
        )
        return 0
    if not infos:
        print(f"no {args.status} jobs in {args.queue}", file=out)
        return 0
    render.table(render.JOB_HEADERS, render.job_rows(infos), out)
    if page.next_cursor:
        print(
            f"more: qgen jobs ls {args.queue} --status {args.status} --cursor {page.next_cursor}",
            file=out,
        )
    return 0


async def _show(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    handle = client.queue(args.queue).get(args.job_id)
    await backend_for(client, Feature.LIST_JOBS, "showing a job")  # SQS cannot look one up
    try:
        info = await handle.info()
    except JobNotFound as exc:
        print(f"qgen: {exc}", file=out)
        return 1
    data_error = _data_error(client, args.queue, info.data)
    if args.json:
        render.print_json({**job_json(info), "data_error": data_error}, out)
    else:
        render.show_job(info, data_error, out)
    return 0


def _data_error(client: AsyncClientBase, queue: str, data: Any) -> str | None:
    from qgen.runtime.errors import ValidationFailed

    try:
        client._adapters(queue).prepare(data)
    except ValidationFailed as exc:
        return str(exc)
    return None


async def _act(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    """``jobs cancel`` and ``jobs retry`` (one job, or every failed one)."""
    action = args.jobs_command
    q = client.queue(args.queue)
    if action == "retry" and args.all_failed:
        if args.job_id:
            raise ConfigError("give a job ID or --all-failed, not both")
        retried = await q.retry_failed(args.limit)
        _said(
            args,
            out,
            {"queue": q.name, "retried": retried},
            f"{q.name}: {retried} failed job(s) back to waiting",
        )
        return 0
    if not args.job_id:
        raise ConfigError(
            f"jobs {action} needs a job ID" + (" or --all-failed" if action == "retry" else "")
        )
    handle = q.get(args.job_id)
    done = await (handle.cancel() if action == "cancel" else handle.retry())
    verb = "cancelled" if action == "cancel" else "retried"
    text = (
        f"{q.name}/{args.job_id}: {verb}"
        if done
        else (f"{q.name}/{args.job_id}: not {verb} (no such job, or not in a state for it)")
    )
    _said(args, out, {"queue": q.name, "id": args.job_id, verb: done}, text)
    return 0 if done else 1


def _said(args: argparse.Namespace, out: TextIO, value: dict[str, Any], text: str) -> None:
    if args.json:
        render.print_json(value, out)
    else:
        print(render.safe(text), file=out)


async def _redrive(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    q = client.queue(args.queue)
    report = await q.redrive(args.limit, args.dry_run)
    if args.json:
        render.print_json({"queue": q.name, **report.as_dict()}, out)
    else:
        render.show_redrive(q.name, str(q.meta.config.get("dead_letter")), report, out)
    return 1 if report.kept else 0


async def _workers(client: AsyncClientBase, args: argparse.Namespace, out: TextIO) -> int:
    found = await client.workers(args.queue)
    if args.json:
        render.print_json([w.to_json() for w in found], out)
    elif not found:
        print(
            "no worker seen in the last 30 s" + (f" on {args.queue}" if args.queue else ""),
            file=out,
        )
    else:
        render.table(render.WORKER_HEADERS, render.worker_rows(found), out)
    return 0


_COMMANDS: dict[str, Command] = {
    "queues": _queues,
    "queues pause": _pause,
    "queues resume": _pause,
    "queues clean": _clean,
    "jobs ls": _ls,
    "jobs show": _show,
    "jobs retry": _act,
    "jobs cancel": _act,
    "dlq redrive": _redrive,
    "workers": _workers,
}

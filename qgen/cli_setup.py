"""``qgen setup --url URL`` and its aliases ``qgen migrate`` (PostgreSQL) and
``qgen sqs create-queues`` (SQS): provision the backend of a URL, through the registry."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from qgen.cli_common import EPILOG, print_diags, project_args, project_config, url_of


def add_parsers(sub: Any) -> None:
    """``setup`` and its aliases ``migrate`` and ``sqs create-queues``."""
    setup = sub.add_parser(
        "setup",
        help="create what the backend needs before use (schema, queues)",
        description="Provision the backend of --url: PostgreSQL schema migrations; SQS queues, "
        "dead-letter queues and redrive policies for the built project's queues, and the "
        "schedules' claim queue when it has schedules; nothing for SQLite and Redis. Idempotent.",
        epilog=EPILOG,
    )
    project_args(setup)
    setup.add_argument("--url", help="backend URL (default: $QGEN_URL)")
    migrate = sub.add_parser(
        "migrate",
        help="create or upgrade qgen's tables in PostgreSQL (alias of setup)",
        description="Apply qgen's PostgreSQL schema migrations: `qgen setup` for a "
        "postgresql:// URL (needs the postgres extra).",
    )
    migrate.add_argument("--url", help="postgresql:// URL (default: $QGEN_URL)")
    sqs = sub.add_parser("sqs", help="SQS helpers", description="SQS helpers.")
    sqs_sub = sqs.add_subparsers(dest="sqs_command", metavar="SQS_COMMAND", required=True)
    create = sqs_sub.add_parser(
        "create-queues",
        help="create the SQS queues (and dead-letter queues) of the built project (alias of setup)",
        description="Create every queue of the project's manifest.json on SQS, with redrive "
        "policies for dead_letter, and the schedules' claim queue: `qgen setup` for an sqs:// "
        "URL (needs the sqs extra and a previous `qgen build`).",
    )
    project_args(create)
    create.add_argument("--url", help="sqs:// URL (default: $QGEN_URL)")


def _built(args: argparse.Namespace, err: TextIO, *, required: bool) -> Any:
    """The built project's queue configs (name -> config) and schedules, ({}, []) when there
    is no project or no build (unless ``required``), None after an error was printed."""
    from qgen.runtime.manifest import load_manifest

    config, diags = project_config(args)
    if config is None:
        if required:
            print_diags(diags, err)
            return None
        return {}, []
    path = config.out_dir / "manifest.json"
    if not required and not path.exists():
        return {}, []
    manifest = load_manifest(path)
    queues = {name: dict(q.config) for name, q in manifest.queues.items()}
    return queues, [s for _, s in sorted(manifest.schedules.items())]


def _provision(url: str, queues: dict[str, Any], schedules: Any = ()) -> Any:
    import asyncio  # here: the codegen commands start without it

    from qgen.runtime.backends.registry import provision

    return asyncio.run(provision(url, queues, schedules))


def cmd_setup(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    url = url_of(args, err)
    if url is None:
        return 2
    built = _built(args, err, required=False)
    if built is None:
        return 2
    done = _provision(url, *built)
    print(f"qgen: {done.summary}", file=out)
    for line in done.details:
        print(line, file=out)
    return 0


def _only(url: str, backend: str, command: str, err: TextIO) -> bool:
    from qgen.runtime.capabilities import backend_for_url

    if backend_for_url(url) == backend:
        return True
    print(f"qgen: `qgen {command}` is for {backend} URLs; use `qgen setup --url ...`", file=err)
    return False


def cmd_migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    url = url_of(args, err)
    if url is None or not _only(url, "postgres", "migrate", err):
        return 2
    print(f"qgen: {_provision(url, {}).summary}", file=out)
    return 0


def cmd_sqs_create(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    url = url_of(args, err)
    if url is None or not _only(url, "sqs", "sqs create-queues", err):
        return 2
    built = _built(args, err, required=True)
    if built is None:
        return 2
    for line in _provision(url, *built).details:
        print(line, file=out)
    return 0

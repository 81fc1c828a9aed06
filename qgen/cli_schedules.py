"""``qgen schedules [--url URL] [--json]``: each schedule of the build with its next fire time
and its last tick's job on the backend.

The last fire is looked up by id: the job ``sched-<name>-<tick ms>`` of the schedule's last
tick at or before now. Found: that tick fired (its status is shown). Not found: no worker served
the queue then, or retention removed the job. On a backend that cannot look jobs up by id
(SQS), the last fire is unknown. The URL: ``--url``, else ``$QGEN_URL``, else the project's
embedded file, as the workers resolve it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import time
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from qgen.cli_common import print_diags, project_args, project_config
from qgen.runtime.capabilities import Feature, backend_for_url, supports
from qgen.runtime.manifest import Manifest, load_manifest
from qgen.runtime.schedule_runner import store_of
from qgen.runtime.schedules import Schedule, next_tick, prev_tick, tick_job_id
from qgen.runtime.urls import mask_url


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "schedules",
        help="the schedules: next fire time and the last tick's job",
        description="Every schedule of the build (wire_schedule): its queue, cron or interval, "
        "the next tick and whether the last tick's job is on the backend.",
    )
    p.add_argument("--url", help="backend URL (default: $QGEN_URL, else the project's file)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    project_args(p)


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config, diags = project_config(args)
    if config is None:
        print_diags(diags, err)
        return 2
    manifest = load_manifest(config.out_dir / "manifest.json")
    url = args.url or os.environ.get("QGEN_URL") or manifest.default_url
    if url == manifest.default_url and not (manifest.project_root / ".qgen/jobs.db").is_file():
        url = None  # no worker or client has used the embedded file: nothing fired there
    rows = asyncio.run(_rows(manifest, url, int(time.time() * 1000)))
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True, ensure_ascii=False), file=out)
        return 0
    if not rows:
        print("no schedules (wire_schedule) in the build", file=out)
        return 0
    if url is not None:
        print(f"backend: {mask_url(url)}", file=out)
    for r in rows:
        print(f"{r['name']} -> {r['queue']}: {r['when']}", file=out)
        print(f"  next: {r['next']}", file=out)
        print(f"  last tick: {r['last_tick']}: {r['last']}", file=out)
    return 0


async def _rows(manifest: Manifest, url: str | None, now: int) -> list[dict[str, Any]]:
    backend: Any = None
    if url is not None and supports(Feature.STATUS, backend_for_url(url)):
        from qgen.runtime.backends.registry import open_backend

        backend = await open_backend(
            url, {q.name: dict(q.config) for q in manifest.queues.values()}
        )
    try:
        return [await _row(s, backend, url, now) for s in manifest.schedules.values()]
    finally:
        if backend is not None:
            await backend.close()


async def _row(s: Schedule, backend: Any, url: str | None, now: int) -> dict[str, Any]:
    last = prev_tick(s, now)
    store = store_of(backend) if backend is not None else None
    job_id = tick_job_id(s, last) if store is None else store.job_id(s, last)
    if url is None:
        state = "unknown: no backend (pass --url or set QGEN_URL)"
    elif backend is None:
        state = f"unknown: {backend_for_url(url)} cannot look a job up by id"
    else:
        job = await backend.get(s.queue, job_id)
        if job is None:
            state = f"not fired: no job {job_id} (no worker then, or removed by retention)"
        else:
            state = f"fired: job {job_id} is {job.status.value}"
    when = f"cron {s.cron} ({s.tz})" if s.cron else f"every {s.every_ms} ms"
    return {
        "name": s.name,
        "queue": s.queue,
        "when": when,
        "next": _local(next_tick(s, now), s.tz),
        "last_tick": _local(last, s.tz),
        "last_job_id": job_id,
        "last": state,
        "catch_up": s.catch_up,
    }


def _local(tick: int, tz: str) -> str:
    moment = dt.datetime.fromtimestamp(tick / 1000, ZoneInfo(tz))
    return moment.isoformat(timespec="milliseconds")

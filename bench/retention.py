"""Does the store stay flat? ``N`` no-op jobs through one backend with qgen's default retention,
its age shortened so that a "day" passes in seconds (issue 14).

    python bench/retention.py [--url URL] [--jobs 1000000] [--day 10] [--keep-count 1000]
        [--fail-every 0] [--bare] [--json FILE]

The queue keeps completed jobs as the defaults do (``{"age": day, "count": 1000}``: one day, at
most 1,000) and failed ones seven days (``{"age": 7 * day}``). A producer adds jobs in chunks
of 1,000 while a consumer in the same process runs them through qgen's runner (input validated
with pydantic, a no-op ``async def`` job, outcome classified; every ``--fail-every``-th fails
for good instead; ``--bare`` completes them without the runner, the store's top speed). At the
end of every "day" the harness prints the jobs done so far, the jobs the store still holds per
status, and the store's size (SQLite: the file and its WAL, and the pages in use; PostgreSQL:
the schema's tables and indexes). Flat means: after the first day the
size stops growing while the jobs done keep growing.

``--keep-count none`` keeps completed jobs by age only (the count otherwise bounds them long
before a day passes at full speed). Not a test: it prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from qgen.runtime.backends.base import (  # noqa: E402
    AddOptions,
    Completed,
    Delivery,
    ErrorInfo,
    Failed,
    Outcome,
)
from qgen.runtime.backends.registry import open_backend  # noqa: E402
from qgen.runtime.capabilities import backend_for_url  # noqa: E402
from qgen.runtime.errors import QueueJobFailed  # noqa: E402
from qgen.runtime.runner import Runner  # noqa: E402
from qgen.runtime.settings import QueueSettings, resolve  # noqa: E402
from qgen.runtime.wiring import QueueWiring  # noqa: E402

QUEUE = "retention"
CHUNK = 1_000
DATA = {"order_id": "o-1", "amount": 500, "currency": "EUR"}


def queue_config(day: float, keep_count: int | None) -> dict[str, Any]:
    completed: dict[str, Any] = {"age": day}
    if keep_count is not None:
        completed["count"] = keep_count
    return {
        "batch_size": 10,
        "attempts": 1,
        "remove_on_complete": completed,
        "remove_on_fail": {"age": 7 * day},
    }


def store_size(url: str) -> dict[str, int]:
    """Bytes the store takes (what can be measured for this backend)."""
    backend = backend_for_url(url)
    if backend == "sqlite":
        path = Path(url.split("sqlite:///", 1)[1].split("?", 1)[0])
        wal = Path(f"{path}-wal")
        conn = sqlite3.connect(path)
        try:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            conn.close()
        return {
            "file_bytes": path.stat().st_size + (wal.stat().st_size if wal.exists() else 0),
            "used_bytes": (pages - free) * page_size,
        }
    if backend == "postgres":
        return {"table_bytes": _pg_size(url)}
    return {}


def _pg_size(url: str) -> int:
    import psycopg

    from qgen.runtime.backends.postgres.url import parse_url

    parsed = parse_url(url)
    with psycopg.connect(parsed.conninfo) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (parsed.schema,),
        ).fetchone()
    return int(row[0]) if row else 0


class Order(BaseModel):
    order_id: str
    amount: int
    currency: str


class Meter:
    """Counts the jobs run; through qgen's runner unless ``bare``."""

    def __init__(self, fail_every: int, settings: QueueSettings, bare: bool) -> None:
        self.done = 0
        self.fail_every = fail_every
        self.runner = (
            None
            if bare
            else Runner(
                QueueWiring(QUEUE, self.noop, {}, (), ()),
                None,
                backend=settings.backend,
                settings=settings,
            )
        )

    async def noop(self, services: Any, data: Order) -> None:
        if self.fail_every and self.done % self.fail_every == 0:
            raise QueueJobFailed("every n-th job fails")

    async def handle(self, delivery: Delivery) -> Outcome:
        self.done += 1
        if self.runner is not None:
            return await self.runner.run(delivery)
        if self.fail_every and self.done % self.fail_every == 0:
            return Failed(ErrorInfo("Planned", "every n-th job fails"), None)
        return Completed(None)


async def run(
    url: str, jobs: int, day: float, keep_count: int | None, fail_every: int, bare: bool
) -> list[dict[str, Any]]:
    settings = resolve(QUEUE, queue_config(day, keep_count), backend_for_url(url))
    backend = await open_backend(url, {QUEUE: settings})
    meter = Meter(fail_every, settings, bare)
    consumer = backend.consume([settings], meter.handle)
    consuming = asyncio.create_task(consumer.run())
    rows: list[dict[str, Any]] = []
    added, start = 0, time.monotonic()
    next_day = start + day
    try:
        while added < jobs or meter.done < jobs:
            if added < jobs and added - meter.done < 20 * CHUNK:  # a bounded backlog
                n = min(CHUNK, jobs - added)
                await backend.enqueue_many(QUEUE, [(DATA, AddOptions())] * n)
                added += n
            else:
                await asyncio.sleep(0.01)
            if time.monotonic() >= next_day:
                rows.append(await sample(backend, url, len(rows) + 1, meter.done))
                next_day += day
        rows.append(await sample(backend, url, len(rows) + 1, meter.done))
    finally:
        await consumer.stop(10)
        await consuming
        await backend.close()
    return rows


async def sample(backend: Any, url: str, day: int, done: int) -> dict[str, Any]:
    row: dict[str, Any] = {"day": day, "jobs_done": done}
    try:
        counts = await backend.counts(QUEUE)
        row.update(kept_completed=counts.completed, kept_failed=counts.failed)
    except Exception as exc:  # a backend without counts() yet: sizes only
        row["counts"] = f"unavailable ({type(exc).__name__})"
    row.update(store_size(url))
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="backend URL (default: a fresh SQLite file)")
    p.add_argument("--jobs", type=int, default=1_000_000)
    p.add_argument("--day", type=float, default=10.0, help="seconds a retention 'day' lasts")
    p.add_argument("--keep-count", default="1000", help="completed jobs kept, or 'none'")
    p.add_argument("--fail-every", type=int, default=0, help="every n-th job fails (0: none)")
    p.add_argument("--bare", action="store_true", help="complete jobs without qgen's runner")
    p.add_argument("--json", type=Path, help="also write the rows here")
    args = p.parse_args(argv)
    logging.getLogger("qgen.runner").setLevel(logging.CRITICAL)  # the planned failures
    keep = None if args.keep_count == "none" else int(args.keep_count)
    with tempfile.TemporaryDirectory(prefix="qgen-retention-") as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'jobs.db'}"
        t0 = time.monotonic()
        rows = asyncio.run(run(url, args.jobs, args.day, keep, args.fail_every, args.bare))
        took = time.monotonic() - t0
    print(f"{args.jobs} jobs in {took:.1f} s ({args.jobs / took:.0f}/s), day = {args.day:g} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

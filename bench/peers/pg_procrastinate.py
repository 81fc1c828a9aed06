"""Peer: procrastinate 3.10 on its psycopg connector, a no-op task, ``run_worker_async`` with
``concurrency=10`` and ``wait=False`` (it stops once the queue is empty).

Measures single ``defer_async`` calls, ``batch_defer_async`` of 1,000 jobs per call and the worker
from start to the last job done, in a fresh schema (on the search_path of every connection) that
is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from typing import Any

import psycopg
from psycopg import sql

SINGLE_MAX = 3000


def _dsn(url: str) -> str:
    parts = urllib.parse.urlsplit(url)  # drop qgen's ?schema=
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


async def _run(url: str, jobs: int, schema: str) -> dict[str, Any]:
    import procrastinate

    dsn = _dsn(url)
    conninfo = psycopg.conninfo.make_conninfo(dsn, options=f"-c search_path={schema}")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    done = 0

    @app.task(queue="work", name="noop")
    async def noop(order_id: str, amount: int, currency: str) -> None:
        nonlocal done
        done += 1

    @app.task(queue="single", name="single")
    async def single_task(order_id: str, amount: int, currency: str) -> None:
        return None

    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        n_single = min(jobs, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            await single_task.defer_async(**data)
        single = n_single / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        for start in range(0, jobs, 1000):
            await noop.batch_defer_async(*[data] * min(1000, jobs - start))
        bulk = jobs / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        await app.run_worker_async(queues=["work"], concurrency=10, wait=False)
        elapsed = time.perf_counter() - t0
        assert done == jobs, (done, jobs)
    return {
        "name": "procrastinate 3.10 (psycopg, concurrency=10)",
        "single_adds_per_s": single,
        "bulk_adds_per_s": bulk,
        "processed_per_s": jobs / elapsed,
    }


def run(url: str, jobs: int) -> dict[str, Any]:
    schema = f"bench_proc_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        return asyncio.run(_run(url, jobs, schema))
    finally:
        with psycopg.connect(_dsn(url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1/test", 5000))

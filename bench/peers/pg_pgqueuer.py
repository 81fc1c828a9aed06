"""Peer: pgqueuer on its asyncpg driver with its defaults (``run(batch_size=10)``).

pgqueuer 1.6 needs ``croniter>=5`` while bullmq pins ``croniter==2.0.7``, so it is not in the
``bench`` extra; see ``bench/requirements-pgqueuer.txt`` for how to install it.

Measures single ``Queries.enqueue`` calls, batch ``enqueue`` of 1,000 jobs per call and a
no-op ``PgQueuer`` worker from start to the last job done, in a fresh schema that is dropped
afterwards (``PGQUEUER_SCHEMA``).
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse
import uuid
from typing import Any

SINGLE_MAX = 5000


def _dsn(url: str) -> str:
    parts = urllib.parse.urlsplit(url)  # drop qgen's ?schema=
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


async def _run(url: str, jobs: int) -> dict[str, Any]:
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.domain.settings import db_settings
    from pgqueuer.queries import Queries

    schema = f"bench_pgq_{uuid.uuid4().hex[:8]}"
    os.environ["PGQUEUER_SCHEMA"] = schema
    db_settings.cache_clear()
    dsn = _dsn(url)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}", public')
        queries = Queries(AsyncpgDriver(conn))
        await queries.install(create_schema=False)
        payload = b'{"order_id":"o-1","amount":500,"currency":"EUR"}'

        n_single = min(jobs, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            await queries.enqueue("single", payload)
        single = n_single / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        for start in range(0, jobs, 1000):
            n = min(1000, jobs - start)
            await queries.enqueue(["work"] * n, [payload] * n, [0] * n)
        bulk = jobs / (time.perf_counter() - t0)

        wconn = await asyncpg.connect(dsn)
        await wconn.execute(f'SET search_path TO "{schema}", public')
        pgq = PgQueuer.from_asyncpg_connection(wconn)
        done = 0

        @pgq.entrypoint("work")
        async def work(job: Any) -> None:
            nonlocal done
            done += 1
            if done >= jobs:
                pgq.shutdown.set()

        t0 = time.perf_counter()
        await pgq.run(batch_size=10)
        elapsed = time.perf_counter() - t0
        await wconn.close()
        return {
            "name": "pgqueuer 1.6 (asyncpg, batch_size=10)",
            "single_adds_per_s": single,
            "bulk_adds_per_s": bulk,
            "processed_per_s": jobs / elapsed,
        }
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
        os.environ.pop("PGQUEUER_SCHEMA", None)
        db_settings.cache_clear()


def run(url: str, jobs: int) -> dict[str, Any]:
    return asyncio.run(_run(url, jobs))


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1/test", 10_000))

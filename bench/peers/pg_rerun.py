"""qgen on PostgreSQL, measured again on the same table: the figures that must hold after the
table has seen many completed jobs and ANALYZE, and the add -> start latency of an idle worker.

Listed as a peer of ``postgres`` so ``bench/throughput.py postgres --peers`` runs it in the same
run; its name starts with "qgen", so the table puts its ratios beside qgen's own.

1. process ``jobs`` jobs on a fresh schema (as the harness's own row does), then ANALYZE;
2. bulk-add ``jobs`` more and time one worker process again on that table
   (``processed_per_s``; the first run is in ``first_run_processed_per_s``);
3. with the worker idle, add 200 jobs one at a time, 20 ms apart, and read each job's
   ``started_on - created_on`` from the table (both stamped by the server):
   ``latency_median_ms`` and ``latency_p99_ms``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from bench import throughput
from bench.peers import TARGETS
from bench.peers.pg_target import split

LATENCY_JOBS = 200


def _analyze(url: str) -> None:
    base, schema = split(url)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}.job").format(sql.Identifier(schema)))


async def _add_slowly(url: str, n: int) -> None:
    client = throughput._client(url)
    try:
        for _ in range(n):
            await client.bench_noop.add(throughput.DATA)
            await asyncio.sleep(0.02)
    finally:
        await client.close()


def latency(url: str) -> tuple[float, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(throughput.APP), str(throughput.ROOT)]),
        "QGEN_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "benchapp.generated.workers.postgres", "--url", url]
    proc = subprocess.Popen(cmd, env=env, cwd=throughput.APP)
    base, schema = split(url)
    s = sql.Identifier(schema)
    try:
        time.sleep(3)  # started and idle
        with psycopg.connect(base, autocommit=True) as conn:
            mark = conn.execute(sql.SQL("SELECT max(seq) FROM {}.job").format(s)).fetchone()
            since = int(mark[0] or 0) if mark else 0
            asyncio.run(_add_slowly(url, LATENCY_JOBS))
            deadline = time.monotonic() + 60
            while True:
                rows = conn.execute(
                    sql.SQL(
                        "SELECT extract(epoch FROM started_on - created_on) FROM {}.job "
                        "WHERE seq > %s AND started_on IS NOT NULL"
                    ).format(s),
                    (since,),
                ).fetchall()
                if len(rows) >= LATENCY_JOBS or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        lat = sorted(float(r[0]) * 1000 for r in rows)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return statistics.median(lat), p99
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


def run(url: str, jobs: int) -> dict[str, Any]:
    target = TARGETS["postgres"]
    first = throughput.processed("postgres", target, url, jobs, 1)
    _analyze(url)
    second = throughput.processed("postgres", target, url, jobs, 1)
    median, p99 = latency(url)
    return {
        "name": "qgen postgres, 2nd run on the same table after ANALYZE",
        "single_adds_per_s": None,
        "bulk_adds_per_s": None,
        "processed_per_s": second,
        "first_run_processed_per_s": first,
        "latency_median_ms": median,
        "latency_p99_ms": p99,
    }


if __name__ == "__main__":
    from pathlib import Path

    from bench.peers.pg_target import DEFAULT_URL, fresh

    with fresh(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_URL, Path("."), None) as u:
        print(run(u, int(sys.argv[2]) if len(sys.argv) > 2 else 10_000))

"""SIGKILL PostgreSQL workers mid-job: their leases run out, the jobs run again; nothing is lost
across 500 jobs and three kills."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.postgres import PostgresBackend
from tests.postgres.pg_app import CONFIG
from tests.postgres.pg_helpers import WorkerProc, pg_url, read_log, rows

__all__ = ["pg_url"]

pytestmark = pytest.mark.slow
JOBS = 500


async def _wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_three_kills_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    backend = await PostgresBackend.connect(pg_url, {"jobs": CONFIG})
    workers: list[WorkerProc] = []
    try:
        items = [({"n": i, "secs": 0.05}, AddOptions(job_id=f"j{i}")) for i in range(JOBS)]
        await backend.enqueue_many("jobs", items)
        for kill in range(3):
            worker = WorkerProc(pg_url, log)
            workers.append(worker)
            target = (kill + 1) * 100
            await _wait_for(lambda t=target: len(read_log(log)) >= t, 120, f"{target} runs")
            # 10 jobs of 50 ms are running: some die mid-flight, leased and unfinished
            worker.kill()
        active = rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state = 'active'")[0][0]
        assert active > 0  # the dead worker's leases
        last = WorkerProc(pg_url, log)
        workers.append(last)
        await _wait_for(
            lambda: (
                rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state = 'completed'") == [(JOBS,)]
            ),
            120,
            "all jobs completed",
        )
        assert last.terminate() == 0, last.output()
        runs = read_log(log)
        assert {j for _, j, _ in runs} == {f"j{i}" for i in range(JOBS)}
        assert len({pid for pid, _, _ in runs}) == 4
        stalled = rows(pg_url, "SELECT count(*) FROM {s}.job WHERE stalled_count > 0")[0][0]
        assert stalled > 0  # jobs held by killed workers came back after their lease
        assert rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state <> 'completed'") == [(0,)]
    finally:
        for w in workers:
            w.kill()
        await backend.close()

"""Poison jobs on PostgreSQL fail alone: one that always raises fails after its attempts, one
that kills every worker that runs it fails after ``max_stalled_count`` lease expiries; both get
their dead-letter copy while every other job completes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.postgres import PostgresBackend
from tests.postgres.pg_app import FRAGILE
from tests.postgres.pg_helpers import WorkerProc, pg_url, read_log, rows

__all__ = ["pg_url"]
pytestmark = pytest.mark.slow
JOBS = 60


async def test_poison_jobs_fail_alone(pg_url: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    backend = await PostgresBackend.connect(pg_url, {"fragile": FRAGILE})
    workers: list[WorkerProc] = []
    try:
        items = [({"n": i, "secs": 0.05}, AddOptions(job_id=f"j{i}")) for i in range(JOBS)]
        items[10] = ({"n": 10, "mode": "raise"}, AddOptions(job_id="raiser"))
        items[20] = ({"n": 20, "mode": "crash"}, AddOptions(job_id="crasher"))
        await backend.enqueue_many("fragile", items)
        deadline = time.monotonic() + 90
        while True:
            states = dict(
                rows(
                    pg_url,
                    "SELECT state::text, count(*) FROM {s}.job WHERE queue = 'fragile' GROUP BY 1",
                )
            )
            if states.get("completed", 0) + states.get("failed", 0) == JOBS:
                break
            assert time.monotonic() < deadline, states
            if not workers or workers[-1].proc.poll() is not None:  # the crasher killed it
                workers.append(WorkerProc(pg_url, log, queues="fragile"))
            await asyncio.sleep(0.1)
        raiser = await backend.get("fragile", "raiser")
        assert raiser is not None and raiser.status is JobStatus.FAILED
        assert raiser.error is not None and raiser.error.type == "ValueError"
        assert raiser.attempts_made == 3
        crasher = await backend.get("fragile", "crasher")
        assert crasher is not None and crasher.status is JobStatus.FAILED
        assert crasher.error is not None and crasher.error.type == "JobStalled"
        assert states == {"completed": JOBS - 2, "failed": 2}
        dead = rows(pg_url, "SELECT id FROM {s}.job WHERE queue = 'fragile-dead' ORDER BY id")
        assert dead == [("crasher",), ("raiser",)]
        assert 2 <= len(workers) <= 4  # 1 + the crasher's kills (up to max_stalled_count + 1)
        done = {j for _, j, _ in read_log(log)}
        assert done == {f"j{i}" for i in range(JOBS)} - {"j10", "j20"}
    finally:
        for w in workers:
            w.kill()
        await backend.close()

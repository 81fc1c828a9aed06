"""kill -9 in the middle of a run loses nothing on SQLite (delivery is at least once).

500 jobs go through two worker processes sharing one queue file; one of them is SIGKILLed three
times while it has jobs in flight and restarted each time. Leases of 2 s let the survivor (or
the restarted worker) take the killed worker's jobs back. Every job must end completed; runs of
a job beyond its first are counted and printed (duplicates are allowed: at least once). A poison
job that always raises ends failed after its attempts while the workers keep serving the rest.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from support import contract_project

from qgen import JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

JOBS = 500


def _worker(url: str, record: Path) -> subprocess.Popen[bytes]:
    """The contract project's generated SQLite worker module (support.contract_project)."""
    env = contract_project.subprocess_env(
        {"QGEN_REL_RECORD": str(record), "QGEN_LOG_LEVEL": "WARNING"}
    )
    cmd = contract_project.worker_command("sqlite", "--url", url, "--queues", "rel")
    cmd += ["--grace", "10"]
    return subprocess.Popen(cmd, cwd=contract_project.PROJECT, env=env, stderr=subprocess.DEVNULL)


def _finished_runs(record: Path) -> list[str]:
    if not record.exists():
        return []
    return [line.split()[0] for line in record.read_text().splitlines() if line.strip()]


async def test_sigkill_three_times_loses_no_job(tmp_path: Path) -> None:
    from contract_app.generated.client import AsyncQueueClient as Client
    from contract_app.reliability import RelTask

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    record = tmp_path / "runs.log"
    async with Client(url) as client:
        rel = client.queue("rel")
        poison = await rel.add(RelTask(n=-1, poison=True, sleep=0.01))
        handles = await rel.add_many([RelTask(n=i) for i in range(JOBS)])
        survivor = _worker(url, record)
        victim = _worker(url, record)
        kills = 0
        try:
            for threshold in (JOBS // 5, 2 * JOBS // 5, 3 * JOBS // 5):
                deadline = time.monotonic() + 60
                while len(set(_finished_runs(record))) < threshold:
                    assert time.monotonic() < deadline, "workers made no progress"
                    assert survivor.poll() is None, "the surviving worker died"
                    await asyncio.sleep(0.02)
                victim.send_signal(signal.SIGKILL)  # batch_size 10 of 0.1 s jobs: it has some
                victim.wait(10)
                kills += 1
                victim = _worker(url, record)
            deadline = time.monotonic() + 120
            while True:
                statuses = await asyncio.gather(*(h.status() for h in handles))
                left = sum(s is not JobStatus.COMPLETED for s in statuses)
                if left == 0:
                    break
                assert time.monotonic() < deadline, f"{left} jobs never completed: lost"
                assert survivor.poll() is None, "the surviving worker died"
                await asyncio.sleep(0.2)
            info = await poison.info()
        finally:
            for proc in (survivor, victim):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(30) for proc in (survivor, victim)]
        assert kills == 3
        assert codes == [0, 0]
        assert info.status is JobStatus.FAILED
        assert info.error is not None and info.error.type == "PoisonError"
        assert info.attempts_made == 3
        results = [await h.result(timeout=5) for h in handles[:: JOBS // 10]]
        assert results == list(range(0, JOBS, JOBS // 10))
    runs = Counter(_finished_runs(record))
    ids = {h.id for h in handles}
    assert set(runs) == ids  # every job ran to its end at least once
    duplicates = sum(n - 1 for n in runs.values())
    print(f"\n{JOBS} jobs, 3 kills: {sum(runs.values())} finished runs, {duplicates} duplicate(s)")

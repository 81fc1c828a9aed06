"""A job that kills its worker process every time it runs (a segfaulting library, os._exit)
is taken again after its lease, at most ``max_stalled_count`` times, then failed; the other
jobs complete. The test plays the process supervisor: it restarts the worker when it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qgen import JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def _worker(url: str, record: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests" / "contract")])
    env["QGEN_REL_RECORD"] = str(record)
    env["QGEN_LOG_LEVEL"] = "WARNING"
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url]
    cmd += ["--wiring", "contract_app.reliability", "--queues", "crashy", "--grace", "5"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


async def test_job_that_kills_its_worker_ends_failed(tmp_path: Path) -> None:
    from contract_app.reliability import RelTask

    from qgen.runtime.client import AsyncClientBase, QueueMeta
    from qgen.runtime.wiring import registered

    config = dict(registered()["crashy"].config)

    class Client(AsyncClientBase):
        QUEUES = {"crashy": QueueMeta("crashy", RelTask, int, config)}

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    record = tmp_path / "runs.log"
    async with Client(url) as client:
        q = client.queue("crashy")
        crasher = await q.add(RelTask(n=-1, crash=True, sleep=0.05))
        others = await q.add_many([RelTask(n=i, sleep=0.01) for i in range(20)])
        deaths = 0
        proc = _worker(url, record)
        try:
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    assert proc.returncode == 3  # died by the crashing job, nothing else
                    deaths += 1
                    proc = _worker(url, record)
                info = await crasher.info()
                statuses = [await h.status() for h in others]
                if info.status.finished and all(s is JobStatus.COMPLETED for s in statuses):
                    break
                assert time.monotonic() < deadline, (info, statuses, deaths)
                await asyncio.sleep(0.1)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(30) == 0
        print(f"\nthe crashing job killed its worker {deaths} time(s): {info.error}")
        assert info.status is JobStatus.FAILED
        # first run + max_stalled_count recoveries, then failed instead of run again
        assert deaths == 1 + config["max_stalled_count"]
        assert [await h.result(timeout=5) for h in others] == list(range(20))

"""``max_stalled_count`` exactly: a job that kills every worker that runs it (a segfaulting
library, os._exit) is taken again after its lease or lock runs out exactly
``max_stalled_count`` times, then failed, with its copy in the dead-letter queue; the other jobs
complete. The test plays the process supervisor: it restarts the generated worker module each
time the job kills it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from contract_app.reliability import RelTask
from contract_harness import BackendCase, eventually, worker, worker_process

from qgen import JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MAX_STALLED = 2  # the "crashy" queue's max_stalled_count
EXIT_BY_JOB = 3  # the crashing job's os._exit code


def _records(path: Path) -> list[tuple[str, str, int]]:
    """(queue, job id, n) of every finished run."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        job_id, _, _, queue, n = line.split()
        out.append((queue, job_id, int(n)))
    return out


async def test_worker_killing_job_is_retaken_max_stalled_count_times(
    backend: BackendCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not backend.supports_key("max_stalled_count"):
        pytest.skip(f"{backend.name} has no stall count (see the capability table)")
    record = tmp_path / "runs.log"
    env = {"QGEN_REL_RECORD": str(record), "QGEN_LOG_LEVEL": "WARNING"}
    monkeypatch.setenv("QGEN_REL_RECORD", str(record))  # for the in-process worker
    logs = []

    def start() -> object:
        log = (tmp_path / f"worker-{len(logs)}.log").open("wb")
        logs.append(log)
        return worker_process(backend, ["crashy"], grace=5, extra_env=env, stdout=log)

    async with backend.client() as client:
        crasher = await client.crashy.add(RelTask(n=-1, crash=True, sleep=0.05))
        others = await client.crashy.add_many([RelTask(n=i, sleep=0.01) for i in range(10)])
        deaths = 0
        proc = start()
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:  # type: ignore[attr-defined]
                    assert proc.returncode == EXIT_BY_JOB, _tail(logs)  # type: ignore[attr-defined]
                    deaths += 1
                    assert deaths <= MAX_STALLED + 1, f"retaken too often; {_tail(logs)}"
                    proc = start()
                status = await crasher.status()
                statuses = [await h.status() for h in others]
                if status.finished and all(s is JobStatus.COMPLETED for s in statuses):
                    break
                assert time.monotonic() < deadline, (status, statuses, deaths, _tail(logs))
                await asyncio.sleep(0.1)
        finally:
            if proc.poll() is None:  # type: ignore[attr-defined]
                proc.terminate()  # type: ignore[attr-defined]
                proc.wait(30)  # type: ignore[attr-defined]
            for log in logs:
                log.close()
        info = await crasher.info()
        assert info.status is JobStatus.FAILED, info
        # the first run and exactly max_stalled_count recoveries, then failed, not run again
        assert deaths == 1 + MAX_STALLED, (deaths, info)
        assert [(await h.info()).result for h in others] == list(range(10))
        # its dead-letter copy, with the payload as added, runs on the dead-letter queue
        async with worker(backend, ["crashy-dead"]) as task:
            await eventually(
                lambda: asyncio.to_thread(_records, record),
                lambda rs: any(q == "crashy-dead" for q, _, _ in rs),
                worker_task=task,
                what="the dead-letter copy to run",
            )
    dead = [(q, n) for q, _, n in _records(record) if q == "crashy-dead"]
    assert dead == [("crashy-dead", -1)]


def _tail(logs: list[object]) -> str:
    if not logs:
        return ""
    path = Path(logs[-1].name)  # type: ignore[attr-defined]
    return path.read_text(errors="replace")[-2000:]

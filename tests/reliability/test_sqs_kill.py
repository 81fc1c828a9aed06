"""SIGKILL SQS workers mid-job: their messages return after the visibility timeout and
complete; nothing is lost across 300 jobs and three kills."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.sqs import SqsBackend
from tests.support.sqs import (
    MotoSqs,
    WorkerProc,
    delete_queues,
    moto_server,
    new_prefix,
    queue_depth,
    read_log,
    url_for,
)

__all__ = ["moto_server"]

pytestmark = pytest.mark.slow
JOBS = 300


async def _wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_three_kills_lose_nothing(moto_server: MotoSqs, tmp_path: Path) -> None:
    prefix = new_prefix()
    url = url_for(moto_server, prefix, create="1")
    log = tmp_path / "done.log"
    # rel: visibility_timeout 3 s, batch_size 10, attempts 5 (see sqs_test_app.CONFIGS)
    backend = await SqsBackend.connect(url, {"rel": {"visibility_timeout": 3}})
    workers: list[WorkerProc] = []
    try:
        items = [({"id": f"j{i}", "kind": "sleep", "secs": 0.2}, AddOptions()) for i in range(JOBS)]
        ids = await backend.enqueue_many("rel", items)
        assert len(ids) == JOBS
        for kill in range(3):
            worker = WorkerProc(url, "rel", log)
            workers.append(worker)
            target = (kill + 1) * 50
            await _wait_for(
                lambda t=target: len({j for _, j, _ in read_log(log)}) >= t, 120, f"{target} jobs"
            )
            worker.kill()  # jobs are 0.2 s long with 10 running: some are mid-flight
            assert worker.proc.returncode == -9
        last = WorkerProc(url, "rel", log)
        workers.append(last)
        await _wait_for(lambda: len({j for _, j, _ in read_log(log)}) >= JOBS, 240, "all jobs")
        assert last.terminate() == 0, last.output()
        runs = read_log(log)
        assert {j for _, j, _ in runs} == {f"j{i}" for i in range(JOBS)}
        # Jobs held by killed workers ran again after their visibility timeout.
        assert max(a for _, _, a in runs) >= 2
        assert len({pid for pid, _, _ in runs}) == 4
        assert queue_depth(moto_server, prefix, "rel") == 0
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill()
        await backend.close()
        delete_queues(moto_server, prefix)

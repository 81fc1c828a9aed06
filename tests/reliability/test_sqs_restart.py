"""An SQS worker survives its server going away and coming back.

The test stops moto's server, wipes its state, and starts a new one on the same port. moto keeps
its state in memory in this process, so a plain stop/start would keep every queue; the wipe
models the harsher case of a local server that restarts empty (real SQS never loses queues).
The worker (``create=1``) recreates its queue, and jobs sent after the restart complete. Jobs
that were in the server when it went away are gone with its memory, so the test sends none
across the restart.
"""

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
    read_log,
    url_for,
)

__all__ = ["moto_server"]

pytestmark = pytest.mark.slow


async def _wait_done(log: Path, ids: set[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ids <= {j for _, j, _ in read_log(log)}:
        assert time.monotonic() < deadline, (
            f"not done: {sorted(ids - {j for _, j, _ in read_log(log)})}"
        )
        await asyncio.sleep(0.1)


async def test_worker_survives_a_server_restart(moto_server: MotoSqs, tmp_path: Path) -> None:
    prefix = new_prefix()
    url = url_for(moto_server, prefix, create="1")
    log = tmp_path / "done.log"
    backend = await SqsBackend.connect(url, {"rel": {"visibility_timeout": 3}})
    worker = WorkerProc(url, "rel", log)
    try:
        await backend.enqueue_many("rel", [({"id": f"a{i}"}, AddOptions()) for i in range(20)])
        await _wait_done(log, {f"a{i}" for i in range(20)}, 60)

        moto_server.reset_state()
        moto_server.stop()
        try:
            await asyncio.sleep(4)  # the worker's receives fail meanwhile
            assert worker.proc.poll() is None, worker.output()
        finally:
            moto_server.start()

        # The producer's own queue URL cache points at a queue that no longer exists: it is
        # recreated (create=1) and the send goes through.
        await backend.enqueue_many("rel", [({"id": f"b{i}"}, AddOptions()) for i in range(20)])
        await _wait_done(log, {f"b{i}" for i in range(20)}, 90)
        assert worker.terminate() == 0
        out = worker.output()
        assert "receive from SQS queue rel failed" in out or "is missing" in out, out
    finally:
        if not moto_server.running:
            moto_server.start()
        if worker.proc.poll() is None:
            worker.kill()
        await backend.close()
        delete_queues(moto_server, prefix)

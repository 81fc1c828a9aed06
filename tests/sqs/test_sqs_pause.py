"""Pause on SQS across worker processes: two workers (python -m qgen.runtime.worker, each its
own process) read the queue's paused tag; while it is set neither takes a job, and after
resume they run every job once. "Nothing ran" needs a wait (no event marks the absence of a
start); the wait is several times the workers' tag-reading period."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.sqs import SqsBackend
from tests.support.sqs import MotoSqs, WorkerProc, queue_depth, read_log

pytestmark = pytest.mark.slow

REL = {"attempts": 5, "visibility_timeout": 3, "drain_delay": 1, "batch_size": 10}  # sqs_test_app


async def test_paused_queue_holds_jobs_for_every_worker_until_resumed(
    url: str, prefix: str, moto_server: MotoSqs, tmp_path: Path
) -> None:
    log = tmp_path / "done.log"
    backend = await SqsBackend.connect(url, {"rel": REL})
    await backend.pause("rel")
    workers = [WorkerProc(url, "rel", log) for _ in range(2)]
    try:
        await backend.enqueue("rel", {"id": "warm-up"}, AddOptions())
        await backend.enqueue_many("rel", [({"id": f"j{i}"}, AddOptions()) for i in range(6)])
        deadline = time.monotonic() + 60
        while not all("consuming SQS queue" in w.output() for w in workers):
            assert time.monotonic() < deadline, [w.output() for w in workers]
            assert all(w.proc.poll() is None for w in workers), [w.output() for w in workers]
            await asyncio.sleep(0.1)
        await asyncio.sleep(3.0)  # each worker read the tag (pause_check=1) and received nothing
        assert read_log(log) == []
        assert all(w.proc.poll() is None for w in workers), [w.output() for w in workers]
        assert queue_depth(moto_server, prefix, "rel") == 7
        counts = await backend.counts("rel")
        assert counts.paused and counts.active == 0, counts
        await backend.resume("rel")
        deadline = time.monotonic() + 60
        while len(read_log(log)) < 7:
            assert time.monotonic() < deadline, read_log(log)
            await asyncio.sleep(0.1)
        ids = sorted(job for _, job, _ in read_log(log))
        assert ids == sorted(["warm-up", *(f"j{i}" for i in range(6))])  # each once
        for w in workers:
            assert w.terminate() == 0, w.output()
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill()
        await backend.close()


async def test_a_long_poll_waiting_when_the_queue_is_paused_gives_back_what_it_brings(
    backend: SqsBackend,
) -> None:
    from qgen.runtime.backends.base import Completed, Delivery, Outcome
    from qgen.runtime.settings import resolve

    ran: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d.data["n"])
        return Completed(None)

    settings = resolve("plain", {"drain_delay": 20, "attempts": 3}, "sqs")  # 20 s long polls
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        await asyncio.sleep(1.5)  # the first long poll is waiting on the empty queue
        await backend.pause("plain")
        await asyncio.sleep(1.1)  # past the tag-reading period
        await backend.enqueue("plain", {"n": 1}, AddOptions())  # the waiting poll gets it
        await asyncio.sleep(2.0)
        assert ran == [] and not task.done()
        await backend.resume("plain")
        deadline = time.monotonic() + 30
        while ran != [1]:
            assert time.monotonic() < deadline and not task.done(), (ran, task)
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop(5)
        await task

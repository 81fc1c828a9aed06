"""The gaps of the plain Python ``bullmq`` worker that qgen's Redis consumer works around, shown
on the real library (if a bullmq release closes one, this test says so and the docs can drop
the note). qgen's own behaviour for the same cases: test_redis_backend.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from bullmq import Queue, Worker


async def test_stock_worker_rounds_a_300ms_backoff_up_to_about_a_second(prefix: str) -> None:
    opts = {"connection": "redis://127.0.0.1:6379/0", "prefix": prefix}
    queue = Queue("gap", opts)
    starts: list[float] = []
    done = asyncio.Event()

    async def process(job: Any, token: str) -> str:
        starts.append(time.monotonic())
        if job.attemptsMade < 2:
            raise RuntimeError("again")
        done.set()
        return "ok"

    worker = Worker("gap", process, {**opts, "concurrency": 1})
    try:
        await asyncio.sleep(0.3)  # idle: the worker blocks on the marker, as in production
        await queue.add("gap", {}, {"attempts": 3, "backoff": {"type": "fixed", "delay": 300}})
        await asyncio.wait_for(done.wait(), 15)
    finally:
        await worker.close()
        await queue.close()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The worker never reads the Redis version, so its blocking timeout is rounded up to whole
    # seconds: a 300 ms backoff becomes ~1 s. qgen's consumer keeps it at ~300 ms.
    assert len(gaps) == 2 and all(g >= 0.8 for g in gaps), gaps

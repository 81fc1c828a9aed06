"""Probe of the plain Python ``bullmq`` package (not of qgen): the gaps of its stock worker
that qgen's Redis consumer works around. If a bullmq release closes one, this probe says so and
the docs can drop the note. qgen's own behaviour for the same cases is tested in
tests/redis/test_redis_backend.py.

    python scripts/probes/bullmq_python_gaps.py [redis://127.0.0.1:6379/0]

Exit status 0: the gap is still there (as documented); 1: it closed.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
import uuid
from typing import Any

import redis
from bullmq import Queue, Worker


async def backoff_gaps(url: str, prefix: str) -> list[float]:
    """Seconds between the three tries of a job with a fixed 300 ms backoff."""
    opts = {"connection": url, "prefix": prefix}
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
    return [b - a for a, b in itertools.pairwise(starts)]


def main(argv: list[str]) -> int:
    url = argv[0] if argv else "redis://127.0.0.1:6379/0"
    prefix = f"qgen-probe-{uuid.uuid4().hex[:12]}"
    try:
        gaps = asyncio.run(backoff_gaps(url, prefix))
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.unlink(*keys)
        client.close()
    # The stock worker never reads the Redis version, so its blocking timeout is rounded up to
    # whole seconds: a 300 ms backoff becomes ~1 s. qgen's consumer keeps it at ~300 ms.
    rounded = len(gaps) == 2 and all(g >= 0.8 for g in gaps)
    shown = ", ".join(f"{g:.3f}" for g in gaps)
    print(f"stock bullmq worker, fixed 300 ms backoff: gaps {shown} s")
    print("gap still there: rounded up to ~1 s" if rounded else "gap closed: not rounded up")
    return 0 if rounded else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

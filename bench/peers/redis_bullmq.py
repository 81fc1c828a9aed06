"""Peer: the plain ``bullmq`` Python package (3.x), its stock Queue and Worker(concurrency=10).

Measures single ``Queue.add`` calls, ``Queue.addBulk`` and a no-op ``Worker`` from start to the
last job done, each on its own fresh queue.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bullmq import Queue, Worker

from bench.peers.redis_common import cleanup, split_url

SINGLE_MAX = 5000


async def _run(url: str, jobs: int) -> dict[str, Any]:
    base, prefix = split_url(url)
    opts = {"connection": base, "prefix": prefix}
    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    try:
        q = Queue("single", opts)
        n_single = min(jobs, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            await q.add("single", data)
        single = n_single / (time.perf_counter() - t0)
        await q.close()

        q = Queue("work", opts)
        t0 = time.perf_counter()
        for start in range(0, jobs, 1000):
            n = min(1000, jobs - start)
            await q.addBulk([{"name": "work", "data": data} for _ in range(n)])
        bulk = jobs / (time.perf_counter() - t0)

        done = 0
        finished = asyncio.Event()

        async def process(job: Any, token: str) -> Any:
            nonlocal done
            done += 1
            if done >= jobs:
                finished.set()
            return None

        t0 = time.perf_counter()
        worker = Worker("work", process, {**opts, "concurrency": 10})
        await finished.wait()
        elapsed = time.perf_counter() - t0
        await worker.close()
        await q.close()
        return {
            "name": "bullmq (Python) Worker(concurrency=10)",
            "single_adds_per_s": single,
            "bulk_adds_per_s": bulk,
            "processed_per_s": jobs / elapsed,
        }
    finally:
        cleanup(base, f"{prefix}:*")


def run(url: str, jobs: int) -> dict[str, Any]:
    return asyncio.run(_run(url, jobs))


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0", 10_000))

"""Peer: saq on Redis (asyncio), Worker(concurrency=10), a fresh queue name per run."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from saq import Queue, Worker

from bench.peers.redis_common import cleanup, split_url

SINGLE_MAX = 5000
DONE = {"n": 0}
FINISHED: dict[str, asyncio.Event] = {}


async def noop(ctx: Any, **data: Any) -> None:
    DONE["n"] += 1
    if DONE["n"] >= DONE.get("target", 0):
        FINISHED["ev"].set()


async def _run(url: str, jobs: int) -> dict[str, Any]:
    base, _ = split_url(url)
    name = f"bench-{uuid.uuid4().hex[:10]}"
    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    try:
        single_q = Queue.from_url(base, name=name + "-single")
        await single_q.connect()
        n_single = min(jobs, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            await single_q.enqueue("noop", **data)
        single = n_single / (time.perf_counter() - t0)
        await single_q.disconnect()

        q = Queue.from_url(base, name=name)
        await q.connect()
        t0 = time.perf_counter()
        # saq has no bulk add that does not also wait for results: gather single enqueues.
        for start in range(0, jobs, 1000):
            n = min(1000, jobs - start)
            await asyncio.gather(*(q.enqueue("noop", **data) for _ in range(n)))
        bulk = jobs / (time.perf_counter() - t0)

        DONE["n"], DONE["target"] = 0, jobs
        FINISHED["ev"] = asyncio.Event()
        worker = Worker(q, functions=[noop], concurrency=10)
        t0 = time.perf_counter()
        task = asyncio.create_task(worker.start())
        await FINISHED["ev"].wait()
        elapsed = time.perf_counter() - t0
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await q.disconnect()
        return {
            "name": "saq Worker(concurrency=10)",
            "single_adds_per_s": single,
            "bulk_adds_per_s": bulk,
            "processed_per_s": jobs / elapsed,
            "bulk_note": "gathered enqueue calls (saq has no bulk add)",
        }
    finally:
        # saq keeps a queue's keys under saq:<name>: and each job under saq:job:<name>: (with a
        # TTL, but a run leaves tens of thousands of them behind for minutes).
        cleanup(base, f"saq:{name}*")
        cleanup(base, f"saq:job:{name}*")


def run(url: str, jobs: int) -> dict[str, Any]:
    return asyncio.run(_run(url, jobs))


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0", 10_000))

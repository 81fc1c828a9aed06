"""qgen on Redis, measured like the peers: single adds through a generated-style async client,
``add_many``, and one worker (batch_size 10) from start to the last job done."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis

from qgen.runtime.client import AsyncClientBase, QueueMeta
from qgen.runtime.worker import run_worker

try:
    from bench.peers import redis_qgen_app as app
except ImportError:  # run as a script from bench/peers
    import redis_qgen_app as app  # type: ignore[no-redef]

def split_url(url: str) -> tuple[str, str]:
    """(URL without qgen's ``prefix`` parameter, a fresh prefix for this run)."""
    parts = urlsplit(url)
    rest = [(k, v) for k, v in parse_qsl(parts.query) if k != "prefix"]
    return urlunsplit(parts._replace(query=urlencode(rest))), f"bench-{uuid.uuid4().hex[:10]}"


def cleanup(url: str, pattern: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
    finally:
        client.close()


SINGLE_MAX = 5000
META = QueueMeta(app.QUEUE, app.Order, None, {"batch_size": 10, "attempts": 1})


class BenchClient(AsyncClientBase):
    QUEUES = {app.QUEUE: META}


async def _run(url: str, jobs: int) -> dict[str, Any]:
    base, prefix = split_url(url)
    sep = "&" if "?" in base else "?"
    qurl = f"{base}{sep}prefix={prefix}"
    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    try:
        client = BenchClient(qurl)
        n_single = min(jobs, SINGLE_MAX)
        await client.add(app.QUEUE, data)  # connect outside the timing, as the peers do
        t0 = time.perf_counter()
        for _ in range(n_single):
            await client.add(app.QUEUE, data)
        single = n_single / (time.perf_counter() - t0)
        await client.close()
        cleanup(base, f"{prefix}:*")

        client = BenchClient(qurl)
        t0 = time.perf_counter()
        for start in range(0, jobs, 1000):
            await client.queue(app.QUEUE).add_many([data] * min(1000, jobs - start))
        bulk = jobs / (time.perf_counter() - t0)
        await client.close()

        watch = aioredis.Redis.from_url(base)
        completed = f"{prefix}:{app.QUEUE}:completed"
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.create_task(
            run_worker(
                qurl,
                wiring_modules=[app.__name__],
                services=None,
                queues=[app.QUEUE],
                grace=5,
                stop=stop,
            )
        )
        while await watch.zcard(completed) < jobs:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - t0
        stop.set()
        await task
        await watch.aclose()
        return {
            "name": "qgen redis worker (batch_size 10)",
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

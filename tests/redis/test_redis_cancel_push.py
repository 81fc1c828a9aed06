"""Operators' cancels of running jobs pushed to Redis workers: the queue's cancel-request stream,
followed by the process's one event reader, reaches every consumer of the queue in the process,
long before a lock extension (half of a 60 s lock_duration) would read the request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from qgen.runtime.backends.base import AddOptions, Cancelled, Delivery, Outcome
from qgen.runtime.backends.redis import RedisBackend
from qgen.runtime.backends.redis.url import parse_url
from qgen.runtime.settings import resolve

LONG_LOCK = {"batch_size": 1, "drain_delay": 1, "lock_duration": 60_000}


class Seen:
    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.cancelled: dict[str, float] = {}

    async def handle(self, d: Delivery) -> Outcome:
        self.started[d.job_id] = time.monotonic()
        while not d.cancel.requested:
            await asyncio.sleep(0.01)
        self.cancelled[d.job_id] = time.monotonic()
        return Cancelled(d.cancel.reason)


async def _until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_two_consumers_of_one_queue_in_one_process_both_hear_cancels(
    backend: RedisBackend,
) -> None:
    settings = [resolve("q", LONG_LOCK, "redis")]
    seen = [Seen(), Seen()]
    consumers = [backend.consume(settings, s.handle) for s in seen]
    tasks = [asyncio.create_task(c.run()) for c in consumers]
    try:
        await backend.enqueue("q", {}, AddOptions(job_id="a"))
        await backend.enqueue("q", {}, AddOptions(job_id="b"))
        await _until(lambda: all(s.started for s in seen), 10)
        held = [next(iter(s.started)) for s in seen]
        assert sorted(held) == ["a", "b"]
        assert await backend.cancel("q", held[0]) is True
        await _until(lambda: held[0] in seen[0].cancelled, 5)
        # one consumer stops: the other still hears the queue's cancels
        await consumers[0].stop(2.0)
        await asyncio.wait_for(tasks[0], 10)
        asked = time.monotonic()
        assert await backend.cancel("q", held[1]) is True
        await _until(lambda: held[1] in seen[1].cancelled, 5)
        assert seen[1].cancelled[held[1]] - asked < 5
    finally:
        for consumer, task in zip(consumers, tasks, strict=True):
            if not task.done():
                await consumer.stop(2.0)
                await asyncio.wait_for(task, 10)


async def test_the_cancel_request_stream_is_qgens_own_key(
    backend: RedisBackend, redis_url: str, prefix: str
) -> None:
    """A waiting job's cancel adds nothing to it; an active job's adds its id, capped."""
    raw = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    stream = f"{prefix}:q:qgen#cancel-requests"
    seen = Seen()
    consumer = backend.consume([resolve("q", LONG_LOCK, "redis")], seen.handle)
    task = asyncio.create_task(consumer.run())
    try:
        await backend.enqueue("q", {}, AddOptions(job_id="w", delay=60))
        assert await backend.cancel("q", "w") is True
        assert await raw.xlen(stream) == 0
        await backend.enqueue("q", {}, AddOptions(job_id="r"))
        await _until(lambda: "r" in seen.started, 10)
        assert await backend.cancel("q", "r") is True
        entries = await raw.xrange(stream)
        assert [fields for _, fields in entries] == [{"jobId": "r"}]
        await _until(lambda: "r" in seen.cancelled, 5)
    finally:
        await consumer.stop(2.0)
        await asyncio.wait_for(task, 10)
        await raw.aclose()

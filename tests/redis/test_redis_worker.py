"""The qgen worker (runner, middleware, threads) on Redis, through a generated-style client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import redis.asyncio as aioredis
import redis_app

from qgen.runtime.backends.base import JobStatus
from qgen.runtime.backends.redis.url import parse_url
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.worker import run_worker


class Client(AsyncClientBase):
    QUEUES = redis_app.queue_metas()  # type: ignore[assignment]


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    c = Client(redis_url)
    yield c
    await c.close()


async def start_worker(url: str, queues: Sequence[str]) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(url, wiring_modules=["redis_app"], services=None, queues=queues, stop=stop)
    )
    return stop, task


async def test_echo_result_progress_through_client(client: Client, redis_url: str) -> None:
    stop, task = await start_worker(redis_url, ["r-echo"])
    try:
        handle = await client.add("r-echo", {"n": 7})
        out = await handle.result(timeout=30)
        assert out.n == 7
        assert await handle.progress() == {"step": "half", "n": 7}
        assert await handle.status() is JobStatus.COMPLETED
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_sync_job_longer_than_its_lock_runs_once(
    client: Client, redis_url: str, prefix: str
) -> None:
    """lock_duration is 1 s and the plain ``def`` job sleeps 2.5 s in its thread: lock renewal
    goes on in the event loop, so a second worker's stalled check never takes the job."""
    stop_a, a = await start_worker(redis_url, ["r-sync"])
    stop_b, b = await start_worker(redis_url, ["r-sync"])
    try:
        handle = await client.add("r-sync", {"n": 1, "seconds": 2.5})
        out = await handle.result(timeout=20)
        assert out.n == 1
    finally:
        stop_a.set()
        stop_b.set()
        await asyncio.wait_for(asyncio.gather(a, b), 20)
    raw = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    fields = await raw.hgetall(f"{prefix}:r-sync:{handle.id}")
    await raw.aclose()
    assert fields["atm"] == "1" and fields["ats"] == "1"  # started once, finished once
    assert fields.get("stc", "0") == "0"  # never counted as stalled

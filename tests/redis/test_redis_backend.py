"""The Redis backend against the real redis-server: BullMQ's layout, options and outcomes.

Each test consumes with a small handler of its own (the runner is tested elsewhere), so the
backend's behaviour is what is checked here.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    JobStatus,
    Outcome,
    Retry,
)
from qgen.runtime.backends.redis import RedisBackend
from qgen.runtime.backends.redis.events import RECHECK_S
from qgen.runtime.backends.redis.jobs import PRIORITY_OFFSET
from qgen.runtime.backends.redis.url import parse_url
from qgen.runtime.errors import ConfigError, JobNotFound, JobTimeout
from qgen.runtime.settings import QueueSettings, resolve

Handle = Callable[[Delivery], Awaitable[Outcome]]


class Running:
    def __init__(self, backend: RedisBackend, settings: list[QueueSettings], handle: Handle):
        self.consumer = backend.consume(settings, handle)
        self.task = asyncio.create_task(self.consumer.run())

    async def stop(self, grace: float = 2.0) -> None:
        await self.consumer.stop(grace)
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    yield client
    await client.aclose()


def settings(name: str = "q", **config: object) -> list[QueueSettings]:
    return [resolve(name, {"batch_size": 4, "drain_delay": 1, **config}, "redis")]


# -- URLs ------------------------------------------------------------------------------------


def test_url_prefix_and_scheme() -> None:
    assert parse_url("redis://h:6379/0").prefix == "bull"
    t = parse_url("rediss://u:p@h:6380/2?prefix=app&ssl_cert_reqs=none")
    assert t.prefix == "app"
    assert t.client_url == "rediss://u:p@h:6380/2?ssl_cert_reqs=none"
    with pytest.raises(ConfigError):
        parse_url("redis://h/0?prefix=bad prefix")
    with pytest.raises(ConfigError):
        parse_url("http://h/0")


# -- what lands in Redis ---------------------------------------------------------------------


async def test_job_hash_is_plain_bullmq(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    job_id = await backend.enqueue("q", {"a": [1, "é"]}, AddOptions(priority=5))
    fields = await raw.hgetall(f"{prefix}:q:{job_id}")
    assert fields["name"] == "q"  # job name = queue name
    assert json.loads(fields["data"]) == {"a": [1, "é"]}  # the payload itself
    opts = json.loads(fields["opts"])
    assert opts["attempts"] == 2  # the queue's config, written on add
    assert opts["backoff"] == {"type": "fixed", "delay": 300}
    assert opts["priority"] == PRIORITY_OFFSET - 5
    assert await raw.zscore(f"{prefix}:q:prioritized", job_id) is not None


async def test_job_id_is_idempotent_and_integers_refused(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    a = await backend.enqueue("q", {"v": 1}, AddOptions(job_id="order-1"))
    b = await backend.enqueue("q", {"v": 2}, AddOptions(job_id="order-1"))
    assert a == b == "order-1"
    info = await backend.get("q", "order-1")
    assert info is not None and info.data == {"v": 1}
    assert await raw.zcard(f"{prefix}:q:prioritized") == 1
    with pytest.raises(ConfigError, match="integer"):
        await backend.enqueue("q", {}, AddOptions(job_id="42"))
    with pytest.raises(ConfigError):
        await backend.enqueue("q", {}, AddOptions(priority=PRIORITY_OFFSET))


async def test_enqueue_many_and_get_unknown(backend: RedisBackend) -> None:
    ids = await backend.enqueue_many("q", [({"i": i}, AddOptions()) for i in range(25)])
    assert len(set(ids)) == 25
    infos = [await backend.get("q", i) for i in ids]
    assert [x.data for x in infos if x] == [{"i": i} for i in range(25)]
    assert all(x is not None and x.status is JobStatus.WAITING for x in infos)
    assert await backend.get("q", "nope") is None
    with pytest.raises(JobNotFound):
        await backend.wait("q", "nope", 1)


# -- consuming -------------------------------------------------------------------------------


async def test_priority_order_higher_first_fifo_within(backend: RedisBackend) -> None:
    for n, prio in [(1, 0), (2, 5), (3, -3), (4, 5), (5, 0), (6, 100)]:
        await backend.enqueue("q", {"n": n}, AddOptions(priority=prio))
    seen: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(d.data["n"])
        return Completed(None)

    run = Running(backend, settings(batch_size=1), handle)
    try:
        while len(seen) < 6:
            await asyncio.sleep(0.02)
    finally:
        await run.stop()
    assert seen == [6, 2, 4, 1, 5, 3]


async def test_result_progress_and_push_wait(backend: RedisBackend) -> None:
    gate = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        await d.report_progress({"pct": 50})
        await gate.wait()
        return Completed({"double": d.data["n"] * 2})

    job_id = await backend.enqueue("q", {"n": 21}, AddOptions())
    run = Running(backend, settings(), handle)
    try:
        with pytest.raises(JobTimeout):
            await backend.wait("q", job_id, 0.3)
        info = await backend.get("q", job_id)
        assert info is not None and info.status is JobStatus.ACTIVE
        assert info.progress == {"pct": 50}
        waiter = asyncio.create_task(backend.wait("q", job_id, 120))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        gate.set()
        done = await waiter
        # woken by the event stream: far sooner than its 30 s re-check of the job's state
        assert time.monotonic() - t0 < RECHECK_S / 3
        assert done.status is JobStatus.COMPLETED and done.result == {"double": 42}
        assert done.attempts_made == 1 and done.finished_at is not None
    finally:
        await run.stop()


async def test_wait_on_job_removed_at_completion(redis_url: str) -> None:
    backend = await RedisBackend.connect(redis_url, {"gone": {"remove_on_complete": True}})

    async def handle(d: Delivery) -> Outcome:
        await asyncio.sleep(0.2)
        return Completed("kept in the event")

    try:
        job_id = await backend.enqueue("gone", {}, AddOptions())
        run = Running(backend, settings("gone", remove_on_complete=True), handle)
        info = await backend.wait("gone", job_id, 5)
        await run.stop()
        assert info.status is JobStatus.COMPLETED and info.result == "kept in the event"
        assert await backend.get("gone", job_id) is None
    finally:
        await backend.close()


async def test_subsecond_delay_and_retry_backoff(backend: RedisBackend) -> None:
    """The Python bullmq worker rounds these up to about a second; qgen's consumer wakes on a
    timer at the job's due time (the capability table says so: subsecond_delay). A 0.3 s
    delay, then five 0.3 s backoffs: each wait at least 0.3 s (causal), all six together far
    below the ~6 s that rounding each up to a second would take."""
    starts: list[float] = []

    async def handle(d: Delivery) -> Outcome:
        starts.append(time.monotonic())
        if d.attempt < 6:
            return Retry(ErrorInfo("Flaky", "try again"), 0.3)
        return Completed(d.attempt)

    run = Running(backend, settings(attempts=6), handle)
    try:
        await asyncio.sleep(0.3)  # the worker is idle and blocked on the marker
        t0 = time.monotonic()
        job_id = await backend.enqueue("q", {}, AddOptions(delay=0.3, attempts=6))
        info = await backend.wait("q", job_id, 60)
    finally:
        await run.stop()
    assert info.status is JobStatus.COMPLETED and info.result == 6
    waits = [starts[0] - t0, *(b - a for a, b in itertools.pairwise(starts))]
    assert len(waits) == 6 and all(w >= 0.28 for w in waits), waits
    assert sum(waits) < 6 * 0.3 + 2.5, waits


async def test_failed_goes_to_dead_letter_and_discard_is_marked(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    async def handle(d: Delivery) -> Outcome:
        if d.data["kind"] == "fail":
            return Failed(ErrorInfo("PaymentFailedError", "card declined", "tb"), "dead")
        return Discarded("not needed")

    failing = await backend.enqueue("q", {"kind": "fail"}, AddOptions())
    discarded = await backend.enqueue("q", {"kind": "discard"}, AddOptions())
    run = Running(backend, settings(), handle)
    try:
        f = await backend.wait("q", failing, 5)
        d = await backend.wait("q", discarded, 5)
    finally:
        await run.stop()
    assert f.status is JobStatus.FAILED
    assert f.error == ErrorInfo("PaymentFailedError", "card declined", "tb")
    assert d.status is JobStatus.DISCARDED and d.error is not None
    assert d.error.message == "not needed"
    # What Node sees: both in the failed set with a failedReason; nothing retried.
    assert await raw.zscore(f"{prefix}:q:failed", discarded) is not None
    assert await raw.hget(f"{prefix}:q:{failing}", "failedReason") == "card declined"
    copy = await backend.get("dead", f"q-{failing}")
    assert copy is not None and copy.data == {"kind": "fail"}
    assert copy.status is JobStatus.WAITING
    assert await backend.get("dead", f"q-{discarded}") is None


async def test_graceful_stop_gives_running_jobs_back(backend: RedisBackend) -> None:
    started = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        started.set()
        await asyncio.sleep(30)
        return Completed(None)

    job_id = await backend.enqueue("q", {}, AddOptions())
    run = Running(backend, settings(), handle)
    await asyncio.wait_for(started.wait(), 5)
    t0 = time.monotonic()
    await run.stop(grace=0.3)
    assert time.monotonic() - t0 < 15  # the grace, not the job's 30 s
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.WAITING  # not failed, not lost
    assert info.attempts_made == 0


async def test_long_job_keeps_its_lock(backend: RedisBackend) -> None:
    """lock_duration 500 ms, the job runs 2 s: renewals keep it, a second consumer's stalled
    check does not take it away, and it runs once."""
    runs: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        runs.append(d.job_id)
        await asyncio.sleep(2)
        return Completed(None)

    cfg = settings(lock_duration=500)
    job_id = await backend.enqueue("q", {}, AddOptions())
    a = Running(backend, cfg, handle)
    b = Running(backend, cfg, handle)
    try:
        info = await backend.wait("q", job_id, 10)
    finally:
        await a.stop()
        await b.stop()
    assert info.status is JobStatus.COMPLETED
    assert runs == [job_id]


async def test_node_style_job_without_options(
    backend: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    """A job added the way Node BullMQ adds one by default (no priority, no attempts) lands in
    the wait list, runs before prioritized jobs, and gets the queue's attempts."""
    from qgen.runtime.backends.redis.keys import QueueKeys

    keys = QueueKeys(prefix, "q")
    await backend.enqueue("q", {"who": "qgen"}, AddOptions(priority=1000))
    node_id = "node-1"
    await raw.hset(
        keys.job(node_id),
        mapping={"name": "q", "data": '{"who":"node"}', "opts": "{}", "timestamp": 1},
    )
    await raw.lpush(keys.wait, node_id)
    await raw.zadd(keys.marker, {"0": 0})
    seen: list[tuple[str, int]] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append((d.data["who"], d.max_attempts))
        return Completed(None)

    run = Running(backend, settings(batch_size=1, attempts=2), handle)
    try:
        await backend.wait("q", node_id, 5)
        while len(seen) < 2:
            await asyncio.sleep(0.02)
    finally:
        await run.stop()
    assert seen == [("node", 2), ("qgen", 2)]

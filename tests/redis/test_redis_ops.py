"""The operator API on Redis beyond the contract suite: what BullMQ's keys hold after each
operation (so Node and Bull Board see the same), failed / discarded / cancelled told apart inside
BullMQ's one failed set, paging with many jobs finished in the same millisecond, a cancel
request that outlives its worker, and the worker registry's client names."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

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
)
from qgen.runtime.backends.ops import WorkerInfo
from qgen.runtime.backends.redis import RedisBackend, ops_list
from qgen.runtime.backends.redis.registry import _parse, client_name, queue_part
from qgen.runtime.backends.redis.scripts import pack
from qgen.runtime.backends.redis.url import parse_url
from qgen.runtime.settings import QueueSettings, resolve

T = TypeVar("T")
CONFIG = {"batch_size": 4, "drain_delay": 1, "attempts": 1, "lock_duration": 1000}


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def ops(redis_url: str) -> AsyncIterator[RedisBackend]:
    b = await RedisBackend.connect(redis_url, {"o": CONFIG})
    try:
        yield b
    finally:
        await b.close()


def settings() -> list[QueueSettings]:
    return [resolve("o", CONFIG, "redis")]


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + 30
    value = await probe()
    while not ok(value):
        assert time.monotonic() < deadline, f"timed out; last value: {value!r}"
        await asyncio.sleep(0.02)
        value = await probe()
    return value


async def by_mode(d: Delivery) -> Outcome:
    mode = d.data.get("mode", "ok")
    if mode == "boom":
        return Failed(ErrorInfo("BoomError", "boom"), None)
    if mode == "discard":
        return Discarded("not wanted")
    return Completed({"n": d.data["n"]})


async def run_all(backend: RedisBackend, ids: list[str]) -> None:
    consumer = backend.consume(settings(), by_mode)
    task = asyncio.create_task(consumer.run())
    try:
        for job_id in ids:
            await eventually(lambda j=job_id: backend.get("o", j), lambda i: i.status.finished)
    finally:
        await consumer.stop(2.0)
        await asyncio.wait_for(task, 10)


async def test_failed_discarded_and_cancelled_are_apart_in_bullmqs_failed_set(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    add = ops.enqueue
    ids = [
        await add("o", {"n": 1}, AddOptions(job_id="ok")),
        await add("o", {"n": 2, "mode": "boom"}, AddOptions(job_id="boom")),
        await add("o", {"n": 3, "mode": "discard"}, AddOptions(job_id="discard")),
    ]
    await add("o", {"n": 4}, AddOptions(job_id="later", delay=60))
    assert await ops.cancel("o", "later") is True
    await run_all(ops, ids)
    counts = await ops.counts("o")
    assert (counts.completed, counts.failed, counts.discarded, counts.cancelled) == (1, 1, 1, 1)
    assert await raw.zcard(f"{prefix}:o:failed") == 3  # Node sees three failed jobs
    assert (
        await raw.hget(f"{prefix}:o:later", "failedReason") == "Cancelled: cancelled before it ran"
    )
    for status, expected in (
        (JobStatus.FAILED, "boom"),
        (JobStatus.DISCARDED, "discard"),
        (JobStatus.CANCELLED, "later"),
    ):
        page, _ = await ops.list_jobs("o", status, 10, None)
        assert [(i.id, i.status) for i in page] == [(expected, status)]
    assert await ops.retry_all("o", None) == 1  # failed only; discarded and cancelled stay
    assert await ops.clean("o", JobStatus.DISCARDED, None, None) == 1
    assert await ops.get("o", "discard") is None
    counts = await ops.counts("o")
    assert (counts.waiting, counts.failed, counts.discarded, counts.cancelled) == (1, 0, 0, 1)
    assert await ops.retry("o", "later") is True  # a cancelled job runs again
    info = await ops.get("o", "later")
    assert info is not None and (info.status, info.error) == (JobStatus.WAITING, None)
    assert await raw.hget(f"{prefix}:o:later", "qgc") is None
    assert (await ops.counts("o")).cancelled == 0
    # ids BullMQ's retention removed from failed are dropped from qgen's sets once they pile up
    await raw.zadd(f"{prefix}:o:qgen#discarded", {f"gone{i}": i for i in range(150)})
    assert (await ops.counts("o")).discarded == 0
    assert await raw.zcard(f"{prefix}:o:qgen#discarded") == 0


async def test_pages_stay_exact_when_jobs_finish_in_the_same_millisecond(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    ids = await ops.enqueue_many(
        "o", [({"n": n}, AddOptions(job_id=f"j{n:02}")) for n in range(30)]
    )
    await run_all(ops, ids)
    # Many jobs finishing in one millisecond, for sure: three finish times for thirty jobs.
    base_ms = int(time.time() * 1000)
    scores = {job_id: float(base_ms + n % 3) for n, job_id in enumerate(ids)}
    await raw.zadd(f"{prefix}:o:completed", scores, xx=True)
    expected = sorted(ids, key=lambda i: (scores[i], i), reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await ops.list_jobs("o", JobStatus.COMPLETED, 7, cursor)
        seen += [i.id for i in page]
        if cursor is None:
            break
    assert seen == expected


async def test_a_cancel_request_outlives_the_worker_that_held_the_job(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    await ops.enqueue("o", {"n": 1}, AddOptions(job_id="held"))
    k = ops.catalog.keys("o")
    fetch = [k.base, int(time.time() * 1000), pack({"token": "gone:0", "lockDuration": 500})]
    taken = await ops.scripts.call("moveToActive", k.move_to_active(), fetch)
    assert taken[1] == "held"  # a worker took it, then died without a trace
    assert await ops.cancel("o", "held") is True
    assert await raw.hget(f"{prefix}:o:held", "qgcr") == "cancelled by an operator"
    ran: list[str] = []

    async def record(d: Delivery) -> Outcome:
        ran.append(d.job_id)
        return Completed(None)

    consumer = ops.consume(settings(), record)
    task = asyncio.create_task(consumer.run())
    try:  # BullMQ's stalled check puts it back; the worker that takes it ends it unrun
        info = await eventually(lambda: ops.get("o", "held"), lambda i: i.status.finished)
    finally:
        await consumer.stop(2.0)
        await asyncio.wait_for(task, 10)
    assert info.status is JobStatus.CANCELLED and ran == []
    assert info.error is not None and info.error.type == "Cancelled"
    counts = await ops.counts("o")
    assert (counts.cancelled, counts.failed, counts.active) == (1, 0, 0)


async def test_pause_is_bullmqs_meta_field_and_resume_wakes_the_queue(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    await ops.pause("o")
    assert await raw.hget(f"{prefix}:o:meta", "paused") == "1"
    await ops.enqueue("o", {"n": 1}, AddOptions(job_id="p"))
    assert not await raw.exists(f"{prefix}:o:marker")  # paused: no worker is woken
    await ops.resume("o")
    assert await raw.hget(f"{prefix}:o:meta", "paused") is None
    assert await raw.zcard(f"{prefix}:o:marker") == 1
    events = [f["event"] for _, f in await raw.xrange(f"{prefix}:o:events")]
    assert "paused" in events and "resumed" in events  # what Node's QueueEvents reads


async def test_retention_options_go_on_every_job_as_bullmq_keepjobs(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str
) -> None:
    await ops.enqueue("o", {"n": 1}, AddOptions(job_id="kept"))
    opts = json.loads(await raw.hget(f"{prefix}:o:kept", "opts") or "{}")
    assert opts["removeOnComplete"] == {"age": 86_400, "count": 1_000}
    assert opts["removeOnFail"] == {"age": 7 * 86_400}


def test_registry_names_are_nodes_and_qgens_own_are_told_apart() -> None:
    me = WorkerInfo("pay ments", "host-1", 42, ("q",), 1700000000.5, 1700000001.0, "redis")
    name = client_name("bull", "payments", me)
    assert name == f"bull:{queue_part('payments')}:w:pay_ments~qgen"  # what Node matches
    assert _parse("bull", name, None) is None  # qgen lists its own from its record
    node_named = f"bull:{queue_part('payments')}:w:mailer"
    assert _parse("bull", node_named, None) == ("payments", "mailer")
    assert _parse("bull", node_named, "payments") == ("payments", "mailer")
    assert _parse("bull", node_named, "other") is None
    assert _parse("bull", f"bull:{queue_part('payments')}", None) == ("payments", "")
    assert _parse("bull", "bull:payments:w:py", "payments") == ("payments", "py")  # bullmq.py
    assert _parse("bull", f"bull:{queue_part('payments')}:qe", None) is None  # QueueEvents
    assert _parse("bull", "qgen:bull", None) is None  # qgen's own client connections
    assert _parse("other", node_named, None) is None


async def test_workers_list_each_process_once_with_its_queues(
    ops: RedisBackend, redis_url: str
) -> None:
    me = WorkerInfo("w", "h", 7, ("a", "b"), time.time(), time.time(), "redis")
    other = await RedisBackend.connect(redis_url, {})
    try:
        await other.heartbeat(me)
        (listed,) = await ops.workers(None)
        assert (listed.name, listed.host, listed.pid, listed.queues) == ("w", "h", 7, ("a", "b"))
        assert [(w.pid, w.queues) for w in await ops.workers("b")] == [(7, ("a", "b"))]
        assert await ops.workers("c") == []
        await other.heartbeat(me, stopping=True)
        assert await ops.workers(None) == []
    finally:
        await other.close()


async def test_waiting_pages_read_in_chunks_stay_exact(
    ops: RedisBackend, raw: aioredis.Redis, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ops_list, "BY_FIELD_CHUNK", 3)  # many chunks per structure
    k = ops.catalog.keys("o")
    for n in range(12):  # priorities shuffle the prioritized set's order against time
        await ops.enqueue("o", {"n": n}, AddOptions(job_id=f"p{n:02}", priority=(n * 7) % 5))
    for n in range(4):  # as a plain Node producer adds them: BullMQ's wait list
        base_args = [k.base, f"w{n}", "o", int(time.time() * 1000), None, None, None, None, None]
        args = [pack(base_args), json.dumps({"n": n}), pack({"attempts": 1})]
        await ops.scripts.call("addStandardJob", k.add_standard(), args)
    times = {}
    for job_id in [f"p{n:02}" for n in range(12)] + [f"w{n}" for n in range(4)]:
        times[job_id] = int(await raw.hget(f"{prefix}:o:{job_id}", "timestamp") or 0)
    expected = sorted(times, key=lambda i: (times[i], i), reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await ops.list_jobs("o", JobStatus.WAITING, 4, cursor)
        seen += [i.id for i in page]
        if cursor is None:
            break
    assert seen == expected


async def test_the_python_bullmq_package_sees_the_same_state(
    ops: RedisBackend, redis_url: str, prefix: str
) -> None:
    from bullmq import Queue  # the pinned wheel whose scripts qgen runs

    await ops.enqueue("o", {"n": 1}, AddOptions(job_id="a"))
    await ops.enqueue("o", {"n": 2}, AddOptions(job_id="b", delay=60))
    await ops.cancel("o", "a")
    await ops.pause("o")
    queue = Queue("o", {"connection": parse_url(redis_url).client_url, "prefix": prefix})
    try:
        assert await queue.isPaused() is True
        counts = await queue.getJobCounts("failed", "delayed", "waiting", "prioritized")
        assert counts == {"failed": 1, "delayed": 1, "waiting": 0, "prioritized": 0}
        (failed,) = await queue.getJobs(["failed"])
        assert (failed.id, failed.failedReason) == ("a", "Cancelled: cancelled before it ran")
        await queue.resume()
        assert await ops.is_paused("o") is False
    finally:
        await queue.close()

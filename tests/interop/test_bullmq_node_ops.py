"""The operator API across Node BullMQ 6.7.0 and qgen on one Redis (issue 14): a pause set from
Node holds for qgen's workers and a pause set by qgen holds for a Node worker, qgen lists the
jobs a Node producer added, and each side lists the other's workers (BullMQ's registry of
named connections). "Nothing ran while paused" is checked in BullMQ's event stream (every
job became active after the ``resumed`` event), after a wait that gives a worker ignoring the
pause time to run."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis.asyncio as aioredis
from support.redis import backend_url
from support.require import missing
from test_bullmq_node import NODE, NODE_DIR, Client, node, split

from qgen.runtime.backends.base import JobStatus
from qgen.runtime.backends.redis.jobs import PRIORITY_OFFSET
from qgen.runtime.worker import run_worker

pytestmark = pytest.mark.interop
T = TypeVar("T")
LOOK = 1.5  # s: long enough for a worker that ignored the pause to start a job


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if NODE is None or not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        missing("Node BullMQ is not installed: the interop tests cannot run")
    with backend_url(tmp_path) as url:
        yield url


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    c = Client(redis_url)
    yield c
    await c.close()


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + 30
    value = await probe()
    while not ok(value):
        assert time.monotonic() < deadline, f"timed out; last value: {value!r}"
        await asyncio.sleep(0.05)
        value = await probe()
    return value


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def started_after_resume(redis_url: str, queue: str, ids: list[str]) -> None:
    """Every job in ``ids`` became active after the queue's last ``resumed`` event, in the
    order of BullMQ's event stream (ids given by the server: causal, not a clock)."""
    base, prefix = split(redis_url)
    r = aioredis.Redis.from_url(base, decode_responses=True)
    try:
        entries = await r.xrange(f"{prefix}:{queue}:events")
    finally:
        await r.aclose()
    order = [(f.get("event"), f.get("jobId")) for _, f in entries]
    resumed = max(i for i, (event, _) in enumerate(order) if event == "resumed")
    active = {job: i for i, (event, job) in enumerate(order) if event == "active"}
    assert set(ids) <= set(active), order
    assert all(active[job] > resumed for job in ids), order


async def test_a_pause_set_from_node_holds_for_qgen_workers(client: Client, redis_url: str) -> None:
    base, prefix = split(redis_url)
    q = client.queue("r-echo")
    assert (await node("ops.mjs", base, prefix, "r-echo", "pause"))["paused"] is True
    assert await q.is_paused() is True and (await q.counts()).paused is True
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(
            redis_url, wiring_modules=["redis_app"], services=None, queues=["r-echo"], stop=stop
        )
    )
    try:
        handles = [await q.add({"n": n}) for n in range(3)]
        # Node's getWorkers() lists the qgen worker (its registry connection, Node's naming).
        state = await eventually(
            lambda: node("ops.mjs", base, prefix, "r-echo", "state"), lambda s: s["workers"]
        )
        (raw,) = state["workers"]
        assert raw.startswith(f"{prefix}:{b64('r-echo')}:w:")
        await asyncio.sleep(LOOK)
        assert [await h.status() for h in handles] == [JobStatus.WAITING] * 3
        assert (await node("ops.mjs", base, prefix, "r-echo", "resume"))["paused"] is False
        assert [(await h.result(timeout=30)).n for h in handles] == [0, 1, 2]
        await started_after_resume(redis_url, "r-echo", [h.id for h in handles])
    finally:
        stop.set()
        await asyncio.wait_for(worker, 30)
    assert (await node("ops.mjs", base, prefix, "r-echo", "state"))["workers"] == []


async def _node_worker(base: str, prefix: str, queue: str, count: int) -> Any:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(NODE_DIR / "work.mjs"),
        base,
        prefix,
        queue,
        str(count),
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 30)
    assert line.strip() == b"ready", line
    return proc


async def test_a_qgen_pause_holds_for_a_node_worker(client: Client, redis_url: str) -> None:
    base, prefix = split(redis_url)
    q = client.queue("r-node")
    await q.pause()
    assert (await node("ops.mjs", base, prefix, "r-node", "state"))["paused"] is True
    handles = [await q.add({"n": n}) for n in range(3)]
    proc = await _node_worker(base, prefix, "r-node", 3)
    try:
        # qgen lists the Node worker (its blocking connection, named as Node names it).
        (seen,) = await eventually(lambda: client.workers("r-node"), lambda ws: len(ws) == 1)
        assert seen.queues == ("r-node",) and seen.name.startswith("bullmq@")
        await asyncio.sleep(LOOK)
        assert [await h.status() for h in handles] == [JobStatus.WAITING] * 3
        await q.resume()
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    log = json.loads(out.decode().strip().splitlines()[-1])
    assert sorted(entry["n"] for entry in log) == [0, 1, 2]
    await started_after_resume(redis_url, "r-node", [h.id for h in handles])
    assert [await h.status() for h in handles] == [JobStatus.COMPLETED] * 3
    assert await client.workers("r-node") == []  # the Node worker closed its connections


async def test_qgen_lists_and_counts_jobs_node_added(client: Client, redis_url: str) -> None:
    base, prefix = split(redis_url)
    ids = await node("ops.mjs", base, prefix, "r-node", "add")
    q = client.queue("r-node")
    counts = await q.counts()
    assert (counts.waiting, counts.delayed, counts.active) == (2, 1, 0)
    page = await q.jobs(status="waiting")
    assert [v.id for v in page.jobs] == [ids["urgent"], ids["plain"]]  # newest first
    urgent, plain = page.jobs
    assert (urgent.data.n, plain.data.n) == (2, 1)
    assert urgent.info.priority == PRIORITY_OFFSET - 3  # Node's priority 3, in qgen's terms
    assert plain.info.priority is None  # no priority: BullMQ's wait list, which runs first
    (later,) = (await q.jobs(status="delayed")).jobs
    assert later.id == ids["later"] and later.data.n == 3
    assert later.info.run_at is not None and later.created_at is not None
    assert later.info.run_at - later.created_at == pytest.approx(60, abs=0.01)
    # A cancel from qgen is a failed job to Node, with the reason.
    assert await q.get(ids["plain"]).cancel() is True
    state = await node("ops.mjs", base, prefix, "r-node", "state")
    assert (state["counts"]["failed"], state["counts"]["waiting"]) == (1, 0)
    assert (await q.counts()).cancelled == 1

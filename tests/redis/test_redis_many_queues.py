"""Issue 13 on Redis: a process's connections are bounded whatever its number of queues, its
clients share them, and a deep backlog never starves an idle queue.

Not timed: the bounds are counts in ``CLIENT LIST`` (the connections carry the test's own
``client_name``), and fairness is an ordering (the idle queue's job completes while the
backlog is still far from drained)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import redis_many_app

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, JobStatus, Outcome
from qgen.runtime.backends.redis import RedisBackend
from qgen.runtime.backends.redis.scripts import SCRIPTS
from qgen.runtime.backends.redis.url import DEFAULT_MAX_CONNECTIONS, parse_url
from qgen.runtime.settings import resolve

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "redis"
BACKLOG = 20_000
# The documented bound (docs/decisions.md): the pool, the marker wait, the event reader.
WORKER_BOUND = DEFAULT_MAX_CONNECTIONS + 2


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def _tagged(url: str) -> tuple[str, str]:
    tag = f"qgen-test-{uuid.uuid4().hex[:10]}"
    return f"{url}&client_name={tag}", tag


def _held(url: str, tag: str) -> dict[str, int]:
    """Connections named ``tag`` or ``tag:<role>``, by role ('' for the pool)."""
    client = redis.Redis.from_url(parse_url(url).client_url, decode_responses=True)
    try:
        listed = client.client_list()
    finally:
        client.close()
    out: dict[str, int] = {}
    for entry in listed:
        name = str(entry.get("name", ""))
        if name == tag or name.startswith(tag + ":"):
            role = name[len(tag) + 1 :]
            out[role] = out.get(role, 0) + 1
    return out


async def until(pred: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_with_500_queues_holds_a_bounded_number_of_connections(
    redis_url: str,
) -> None:
    url, tag = _tagged(redis_url)
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--grace", "5"]
    cmd += ["--wiring", "redis_many_app", "--log-level", "WARNING"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    backend = await RedisBackend.connect(redis_url, {})
    most: dict[str, int] = {}

    def sample() -> dict[str, int]:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        held = _held(url, tag)
        for role, n in held.items():
            most[role] = max(most.get(role, 0), n)
        return held

    try:
        await until(lambda: sample().get("wait") == 1, 60, "the worker to wait for jobs")
        n = redis_many_app.QUEUES
        names = [redis_many_app.queue_name(i) for i in (0, n // 2, n - 1)]
        ids = {q: await backend.enqueue(q, {"to": q}, AddOptions()) for q in names}
        for queue, job_id in ids.items():
            deadline = time.monotonic() + 30
            while not (info := await backend.get(queue, job_id)) or not info.status.finished:
                sample()
                assert time.monotonic() < deadline, f"the job on {queue} never finished"
                await asyncio.sleep(0.05)
            assert info.status is JobStatus.COMPLETED and info.result == {"queue": queue}
        for _ in range(20):  # and it stays within the bound while idle
            sample()
            await asyncio.sleep(0.05)
        assert most.get("wait") == 1  # one marker wait for all 500 queues
        assert 1 <= most.get("", 0) <= DEFAULT_MAX_CONNECTIONS
        assert sum(most.values()) <= WORKER_BOUND, most
    finally:
        await backend.close()
        proc.terminate()
        out = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == 0, out


async def test_a_deep_backlog_never_starves_an_idle_queue(redis_url: str) -> None:
    backend = await RedisBackend.connect(redis_url, {})
    for start in range(0, BACKLOG, 1000):
        items = [({"n": k}, AddOptions()) for k in range(start, start + 1000)]
        await backend.enqueue_many("backlog", items)
    ran = {"backlog": 0, "idle": 0}

    async def handle(d: Delivery) -> Outcome:
        ran[d.queue] += 1
        return Completed(None)

    queues = [resolve(q, {"batch_size": 10, "drain_delay": 5}, "redis") for q in ran]
    consumer = backend.consume(queues, handle)
    task = asyncio.create_task(consumer.run())
    try:
        await until(lambda: ran["backlog"] >= 1000, 60, "the backlog to be under way")
        job_id = await backend.enqueue("idle", {"x": 1}, AddOptions())
        info = await backend.wait("idle", job_id, 60)
        drained_by_then = ran["backlog"]
        assert info.status is JobStatus.COMPLETED and ran["idle"] == 1
        assert drained_by_then < BACKLOG // 2, drained_by_then
        keys = backend.catalog.keys("backlog")  # qgen's adds carry a priority: BullMQ's zset
        assert await backend.client.zcard(keys.prioritized) > 0
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 60)
        await backend.close()


async def test_clients_on_one_event_loop_share_their_connections(redis_url: str) -> None:
    url, tag = _tagged(redis_url)
    clients = [await RedisBackend.connect(url, {}) for _ in range(5)]
    closed = 0
    try:
        ids = [await c.enqueue(f"q{i}", {"i": i}, AddOptions()) for i, c in enumerate(clients)]
        assert _held(url, tag) == {"": 1}  # the script sender's connection
        for i, c in enumerate(clients):  # waiting adds one event reader, for all of them
            with pytest.raises(TimeoutError):
                await c.wait(f"q{i}", ids[i], 0.05)
        # ... and redis-py's own commands (the state check) one pooled connection
        assert _held(url, tag) == {"": 2, "events": 1}
        waits = [asyncio.create_task(c.wait(f"q{i}", ids[i], 30)) for i, c in enumerate(clients)]
        await asyncio.sleep(0.2)  # all five queues' streams now in the one read
        assert _held(url, tag)["events"] == 1
        ran: list[str] = []

        async def handle(d: Delivery) -> Outcome:
            ran.append(d.queue)
            return Completed({"i": d.data["i"]})

        consumer = clients[0].consume([resolve(f"q{i}", {}, "redis") for i in range(5)], handle)
        task = asyncio.create_task(consumer.run())
        infos = await asyncio.wait_for(asyncio.gather(*waits), 30)
        assert [info.result for info in infos] == [{"i": i} for i in range(5)]
        assert _held(url, tag)["wait"] == 1
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)
        for c in clients[:4]:
            await c.close()
            closed += 1
        assert "" in _held(url, tag)  # the last one still uses them
        assert (await clients[4].get("q4", ids[4])) is not None
    finally:
        for c in clients[closed:]:
            await c.close()
    await until(
        lambda: not _held(url, tag), 10, f"the shared connections to close: {_held(url, tag)}"
    )


def test_bounded_pool_in_the_url() -> None:
    base = "redis://h:6379/0?prefix=p"
    assert parse_url(base).max_connections == DEFAULT_MAX_CONNECTIONS == 8
    t = parse_url(base + "&max_connections=3&client_name=app-1")
    assert (t.max_connections, t.name) == (3, "app-1")
    assert "max_connections" not in t.client_url and "client_name" not in t.client_url
    assert parse_url(base).name == "qgen:p"
    for bad in ("1", "65", "x", "4.5", "-4", "٣"):
        with pytest.raises(Exception, match="max_connections"):
            parse_url(f"{base}&max_connections={bad}")
    with pytest.raises(Exception, match="client_name"):
        parse_url(f"{base}&client_name=a b")


async def test_an_idle_queue_fetches_again_after_its_own_drain_delay(redis_url: str) -> None:
    """A job whose marker is lost (added and the marker deleted in one MULTI, so the blocked
    marker wait never sees it) is still found by its queue's fetch after that queue's
    drain_delay (1 s), although another queue in the same wait has a drain_delay of 60 s."""
    backend = await RedisBackend.connect(redis_url, {})
    ran: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d.queue)
        return Completed(None)

    queues = [
        resolve("quick", {"drain_delay": 1}, "redis"),
        resolve("slow", {"drain_delay": 60}, "redis"),
    ]
    consumer = backend.consume(queues, handle)
    task = asyncio.create_task(consumer.run())
    try:
        lanes = consumer.lanes  # type: ignore[attr-defined]
        await until(lambda: all(lane.any_idle.is_set() for lane in lanes), 30, "idle lanes")
        for queue in ("quick", "slow"):
            name, keys, args = backend.catalog.builder(queue).add_call({"n": 1}, AddOptions())
            assert isinstance(keys, list)
            pipe = backend.client.pipeline(transaction=True)
            pipe.evalsha(SCRIPTS[name].sha, len(keys), *keys, *args)
            pipe.delete(backend.catalog.keys(queue).marker)
            await pipe.execute()
        await until(lambda: "quick" in ran, 30, "the quick queue's job")
        assert ran == ["quick"]  # the slow queue's fetch is 60 s away
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 60)
        await backend.close()


async def test_a_pool_of_two_serves_twenty_busy_queues(redis_url: str) -> None:
    """``max_connections=2``: one connection for script calls, which then go out coalesced
    (every call made while one pipeline is in flight leaves in the next), one for the rest;
    twenty queues of 50 jobs each all complete, their results stored."""
    url, tag = _tagged(redis_url + "&max_connections=2")
    backend = await RedisBackend.connect(url, {})
    names = [f"busy-{i}" for i in range(20)]
    ids = {
        q: await backend.enqueue_many(q, [({"n": k}, AddOptions()) for k in range(50)])
        for q in names
    }
    most: dict[str, int] = {}

    async def handle(d: Delivery) -> Outcome:
        for role, n in _held(url, tag).items() if d.data["n"] % 10 == 0 else ():
            most[role] = max(most.get(role, 0), n)
        return Completed({"q": d.queue, "n": d.data["n"]})

    consumer = backend.consume([resolve(q, {"batch_size": 5}, "redis") for q in names], handle)
    task = asyncio.create_task(consumer.run())
    try:
        for queue in names:
            for n, job_id in enumerate(ids[queue]):
                info = await backend.wait(queue, job_id, 60)
                assert info.status is JobStatus.COMPLETED and info.result == {"q": queue, "n": n}
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 60)
        await backend.close()
    assert most[""] <= 2 and most.get("wait", 0) <= 1, most

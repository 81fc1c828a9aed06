"""Redis reliability: kill -9 mid-job, dropped connections, a poison job. Real redis-server,
real worker processes (``python -m qgen.runtime.worker``)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.redis import RedisBackend
from qgen.runtime.backends.redis.url import parse_url

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "tests" / "redis"
sys.path.insert(0, str(APP_DIR))
import redis_app  # noqa: E402
from support.redis import backend_url  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


@pytest.fixture
def prefix(redis_url: str) -> str:
    return redis_url.split("prefix=", 1)[1]


def worker_process(url: str, queue: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(APP_DIR), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", "redis_app"]
    cmd += ["--queues", queue, "--grace", "2"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # stderr: captured by pytest


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisBackend]:
    configs = {q: dict(m.config) for q, m in redis_app.queue_metas().items()}  # type: ignore[attr-defined]
    b = await RedisBackend.connect(redis_url, configs)
    yield b
    await b.close()


async def count(raw: aioredis.Redis, key: str) -> int:
    return int(await raw.zcard(key))


async def wait_for(probe, ok, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    value = await probe()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        await asyncio.sleep(0.05)
        value = await probe()
    return value


async def test_kill_9_three_times_loses_nothing(
    backend: RedisBackend, redis_url: str, prefix: str
) -> None:
    """500 jobs, the worker SIGKILLed three times mid-job: the jobs it held come back after
    lock_duration (2 s) through BullMQ's stalled check and every job completes."""
    ids = await backend.enqueue_many(
        "r-kill", [({"n": i, "seconds": 0.02}, AddOptions()) for i in range(500)]
    )
    raw = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    completed = f"{prefix}:r-kill:completed"
    try:
        for round_ in range(3):
            proc = worker_process(redis_url, "r-kill")
            target = 60 * (round_ + 1)
            await wait_for(
                lambda: count(raw, completed), lambda c, t=target: c >= t, 60, "progress"
            )
            active = await raw.llen(f"{prefix}:r-kill:active")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert active > 0, "the kill should land while jobs are running"
        proc = worker_process(redis_url, "r-kill")
        try:
            await wait_for(lambda: count(raw, completed), lambda c: c >= 500, 120, "all jobs")
        finally:
            stop(proc)
        assert await count(raw, f"{prefix}:r-kill:failed") == 0
        infos = [await backend.get("r-kill", i) for i in ids]
        assert all(x is not None and x.status is JobStatus.COMPLETED for x in infos)
        stalled = [await raw.hget(f"{prefix}:r-kill:{i}", "stc") for i in ids]
        assert sum(1 for s in stalled if s and int(s) > 0) >= 3  # recovered, not re-added
    finally:
        await raw.aclose()


async def test_client_kill_mid_run_reconnects(
    backend: RedisBackend, redis_url: str, prefix: str
) -> None:
    """Every connection of the worker is dropped with CLIENT KILL (twice) while jobs run; the
    worker reconnects by itself and finishes them all."""
    await backend.enqueue_many(
        "r-echo", [({"n": i, "seconds": 0.01}, AddOptions()) for i in range(400)]
    )
    raw = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    completed = f"{prefix}:r-echo:completed"
    proc = worker_process(redis_url, "r-echo")
    try:
        for target in (100, 200):
            await wait_for(lambda: count(raw, completed), lambda c, t=target: c >= t, 60, "jobs")
            killed = 0
            for client in await raw.client_list():
                # Only this test's worker: other tests share the server.
                if client.get("name") == f"qgen:{prefix}":
                    killed += int(await raw.execute_command("CLIENT", "KILL", "ID", client["id"]))
            assert killed >= 1  # the consumer at least (idle clients reconnect lazily)
        await wait_for(lambda: count(raw, completed), lambda c: c >= 400, 60, "all jobs")
        # Once more while the worker is idle, blocked on the queue marker: a job added after
        # the kill is still picked up (the blocking connection comes back by itself).
        await asyncio.sleep(0.5)
        for client in await raw.client_list():
            if client.get("name") == f"qgen:{prefix}":
                await raw.execute_command("CLIENT", "KILL", "ID", client["id"])
        late = await backend.enqueue("r-echo", {"n": 999}, AddOptions())
        info = await backend.wait("r-echo", late, 15)
        assert info.status is JobStatus.COMPLETED
        assert proc.poll() is None, "the worker must survive dropped connections"
        assert await count(raw, f"{prefix}:r-echo:failed") == 0
    finally:
        stop(proc)
        await raw.aclose()


async def test_poison_job_fails_alone(backend: RedisBackend, redis_url: str, prefix: str) -> None:
    ids = await backend.enqueue_many("r-poison", [({"n": i}, AddOptions()) for i in range(40)])
    raw = aioredis.Redis.from_url(parse_url(redis_url).client_url, decode_responses=True)
    proc = worker_process(redis_url, "r-poison")
    try:
        infos = [await backend.wait("r-poison", i, 30) for i in ids]
    finally:
        stop(proc)
        await raw.aclose()
    failed = [x for x in infos if x.status is not JobStatus.COMPLETED]
    assert [x.data["n"] for x in failed] == [13]
    assert failed[0].status is JobStatus.FAILED and failed[0].attempts_made == 2
    assert failed[0].error is not None and "poison pill" in failed[0].error.message
    copy = await backend.get("r-poison-dead", f"r-poison-{failed[0].id}")
    assert copy is not None and copy.data == {"n": 13}  # the payload as it was added
    assert proc.returncode == 0  # SIGTERM: drained and exited cleanly

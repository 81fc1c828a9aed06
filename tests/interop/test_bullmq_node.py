"""Interop with Node BullMQ 6.7.0 (tests/interop/node, installed by .ci/run with ``npm ci``):
a Node producer with the qgen worker, and the qgen client with a Node worker."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
sys.path.insert(0, str(ROOT / "tests" / "redis"))
import redis_app  # noqa: E402
from support.redis import backend_url  # noqa: E402
from support.require import missing  # noqa: E402

from qgen.runtime.backends.base import JobStatus  # noqa: E402
from qgen.runtime.client import AsyncClientBase  # noqa: E402
from qgen.runtime.worker import run_worker  # noqa: E402

NODE = shutil.which("node")
pytestmark = pytest.mark.interop


class Client(AsyncClientBase):
    QUEUES = redis_app.queue_metas()  # type: ignore[assignment]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if NODE is None:
        missing("node is not installed: the Node BullMQ interop tests cannot run")
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        missing(f"Node BullMQ is not installed: run `npm ci --prefix {NODE_DIR}`")
    with backend_url(tmp_path) as url:
        yield url


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    c = Client(redis_url)
    yield c
    await c.close()


def split(url: str) -> tuple[str, str]:
    base, prefix = url.split("?prefix=", 1)
    return base, prefix


async def node(script: str, *args: str, timeout: float = 60) -> Any:
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(NODE_DIR / script),
        *args,
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


async def test_node_producer_qgen_worker(redis_url: str) -> None:
    """Node adds plain jobs ({n}); the qgen worker validates and runs them; Node reads the
    return values and progress the qgen worker stored."""
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(
            redis_url, wiring_modules=["redis_app"], services=None, queues=["r-echo"], stop=stop
        )
    )
    try:
        base, prefix = split(redis_url)
        results = await node("produce.mjs", base, prefix, "r-echo", "5")
    finally:
        stop.set()
        await asyncio.wait_for(worker, 20)
    assert [r["returnvalue"]["n"] for r in results] == [0, 1, 2, 3, 4]
    assert all(r["state"] == "completed" for r in results)
    assert [r["progress"] for r in results] == [{"step": "half", "n": i} for i in range(5)]


async def test_qgen_client_node_worker(client: Client, redis_url: str) -> None:
    """The qgen client adds jobs with priority, delay and attempts; a Node BullMQ worker
    honours all three, and qgen reads the Node worker's results and failures."""
    q = client.queue("r-node")
    t0 = time.time()
    low = await q.add({"n": 1}, priority=1)
    high = await q.add({"n": 2}, priority=10)
    mid = await q.add({"n": 3}, priority=5)
    delayed = await q.add({"n": 4}, priority=100, delay=3.0)
    flaky = await q.add(
        {"n": 5, "fail_times": 2}, attempts=3, backoff={"type": "fixed", "delay": 100}
    )
    doomed = await q.add(
        {"n": 6, "fail_times": 5}, attempts=2, backoff={"type": "fixed", "delay": 100}
    )
    base, prefix = split(redis_url)
    log = await node("work.mjs", base, prefix, "r-node", "6")
    firsts: dict[int, dict[str, Any]] = {}
    for entry in log:
        firsts.setdefault(entry["n"], entry)
    # Priority: higher qgen priority first (n=5, n=6 have the default 0, below n=1's 1).
    order = [e["n"] for e in log if e["attemptsMade"] == 0]
    assert order[:3] == [2, 3, 1], log
    assert order[-1] == 4, log  # the most urgent job, but delayed: it runs last
    # Delay: it started no earlier than 3 s after it was added.
    assert firsts[4]["at"] / 1000 - t0 >= 2.95, log
    # Attempts: 3 tries for the flaky job, 2 for the doomed one, as the client asked.
    assert [e["attemptsMade"] for e in log if e["n"] == 5] == [0, 1, 2]
    assert [e["attemptsMade"] for e in log if e["n"] == 6] == [0, 1]
    assert (await flaky.result(timeout=5)) == {"n": 5, "by": "node"}
    assert (await high.result(timeout=5)) == {"n": 2, "by": "node"}
    info = await doomed.info()
    assert info.status is JobStatus.FAILED and info.error is not None
    assert "planned failure 2" in info.error.message
    for h in (low, mid, delayed):
        assert await h.status() is JobStatus.COMPLETED

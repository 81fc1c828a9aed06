"""Schedules as BullMQ job schedulers, with Node BullMQ 6.7.0 (tests/interop/node): Node sees
qgen's schedules, a scheduler Node upserts on a qgen queue fires into qgen workers (which make
its next iterations), and a qgen worker removes qgen's own schedulers that left the build but
never Node's."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"
sys.path.insert(0, str(ROOT / "tests" / "schedules"))
import sched_project  # noqa: E402
from support.redis import backend_url  # noqa: E402
from support.require import missing  # noqa: E402

from qgen.runtime.schedules import tick_of_job_id  # noqa: E402

NODE = shutil.which("node")
pytestmark = pytest.mark.interop


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if NODE is None:
        missing("node is not installed: the Node BullMQ interop tests cannot run")
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        missing(f"Node BullMQ is not installed: run `npm ci --prefix {NODE_DIR}`")
    with backend_url(tmp_path) as url:
        yield url


async def node(url: str, queue: str, *args: str) -> Any:
    assert NODE is not None
    base, prefix = url.split("?prefix=", 1)
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(NODE_DIR / "schedulers.mjs"),
        base,
        prefix,
        queue,
        *args,
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


async def _until(probe: Any, ok: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    value = await probe()
    while not ok(value):
        assert time.monotonic() < deadline, f"timed out; last value: {value!r}"
        await asyncio.sleep(0.1)
        value = await probe()
    return value


def _stop(proc: Any) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out: bytes = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out.decode(errors="replace")
    return out.decode(errors="replace")


async def test_node_sees_qgen_schedules_and_qgen_fires_node_schedulers(
    redis_url: str, tmp_path: Path
) -> None:
    from bullmq import Queue  # type: ignore[import-untyped]

    base, prefix = redis_url.split("?prefix=", 1)
    # Before the worker starts: a qgen schedule no longer in the build, and one of Node's.
    ghost = Queue("ticks", {"connection": base, "prefix": prefix})
    try:
        await ghost.upsertJobScheduler(
            "gone", {"every": 60_000}, "ticks", {"n": 9}, {"qgen": "schedule"}
        )
    finally:
        await ghost.close()
    await node(redis_url, "ticks", "upsert", "node-slow", "60000", '{"n": 7}')

    log = tmp_path / "runs.log"
    worker = sched_project.worker("redis", redis_url, ["ticks", "digest"], log)
    try:
        # Node reads qgen's schedules as job schedulers; the ghost is gone, Node's stays.
        listed = await _until(
            lambda: node(redis_url, "ticks", "list"),
            lambda found: {s["key"] for s in found} == {"fast", "node-slow"},
        )
        fast = next(s for s in listed if s["key"] == "fast")
        assert (fast["every"], fast["data"]) == (400, {"n": 1})
        # A scheduler Node upserts on a qgen queue fires into the qgen worker, iteration after
        # iteration (the qgen worker makes the next ones: no Node worker runs).
        await node(redis_url, "digest", "upsert", "node-every", "300", '{"kind": "node"}')
        runs = await _until(
            lambda: asyncio.to_thread(sched_project.runs, log),
            lambda ids: sum(i.startswith("repeat:node-every:") for i in ids) >= 5,
        )
    finally:
        output = _stop(worker)
    assert "schedule gone removed from queue ticks: no longer in the build" in output
    ticks = sorted(t for t in (tick_of_job_id("node-every", i) for i in runs) if t is not None)
    assert len(ticks) == len(set(ticks)) >= 5
    # the first iteration is immediate (Node's every without a start date); then every 300 ms
    assert all(b - a == 300 for a, b in itertools.pairwise(ticks[1:])), ticks
    assert any(i.startswith("repeat:fast:") for i in runs)

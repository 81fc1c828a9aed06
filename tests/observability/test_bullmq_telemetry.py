"""Trace context across Node BullMQ 6.7.0 and qgen on Redis: qgen writes and reads it where
Node BullMQ's own telemetry keeps it (the job option ``tm``: its propagation metadata, a JSON
W3C carrier). A Node producer's trace continues in a qgen worker process, and a qgen
producer's in a Node worker, both with BullMQ's telemetry interface on."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from obs_app.generated.client import AsyncQueueClient
from obs_harness import Case, ClientTracing, worker
from support.redis import backend_url
from support.require import missing
from waiting import until

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "interop" / "node"
NODE = shutil.which("node")
pytestmark = pytest.mark.interop


@pytest.fixture
def redis_case(tmp_path: Path) -> Iterator[Case]:
    if NODE is None:
        missing("node is not installed: the Node BullMQ interop tests cannot run")
    if not (NODE_DIR / "node_modules" / "bullmq").is_dir():
        missing(f"Node BullMQ is not installed: run `npm ci --prefix {NODE_DIR}`")
    with backend_url(tmp_path) as url:
        yield Case("redis", url)


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


def split(url: str) -> tuple[str, str]:
    base, prefix = url.split("?prefix=", 1)
    return base, prefix


async def test_a_node_producers_trace_continues_in_a_qgen_worker(
    redis_case: Case, tmp_path: Path
) -> None:
    base, prefix = split(redis_case.url)
    sent = await node("produce_traced.mjs", base, prefix, "obs", json.dumps({"mode": "ok"}))
    with worker(redis_case, tmp_path) as w:
        [run] = await until(
            lambda: [s for s in w.spans() if s["kind"] == "CONSUMER"],
            lambda got: len(got) >= 1,
            what="the qgen worker's span of the Node job",
            alive=w.check_alive,
        )
    assert run["attributes"]["messaging.message.id"] == sent["id"]
    assert run["trace_id"] == sent["traceId"]
    assert run["parent_span_id"] == sent["spanId"]
    assert run["attributes"]["qgen.outcome"] == "completed"


async def test_a_qgen_producers_trace_continues_in_a_node_worker(
    redis_case: Case, client_tracing: ClientTracing
) -> None:
    client = AsyncQueueClient.from_url(redis_case.url)
    try:
        handle = await client.obs.add({"mode": "ok"})
        raw = await _raw_opts(redis_case.url, handle.id)
    finally:
        await client.close()
    [send] = [s for s in client_tracing.spans() if s["kind"] == "PRODUCER"]
    carrier = json.loads(raw["tm"])  # where Node BullMQ keeps opts.telemetry.metadata
    assert carrier["traceparent"].startswith(f"00-{send['trace_id']}-{send['span_id']}-")
    base, prefix = split(redis_case.url)
    seen = await node("work_traced.mjs", base, prefix, "obs", "1")
    assert seen["ids"] == [handle.id]
    assert [json.loads(m) for m in seen["received"]] == [carrier]
    [span] = seen["spans"]
    assert (span["traceId"], span["parentSpanId"]) == (send["trace_id"], send["span_id"])


async def _raw_opts(url: str, job_id: str) -> dict[str, Any]:
    """The job hash's ``opts`` as stored in Redis."""
    import redis.asyncio as aioredis

    base, prefix = split(url)
    r = aioredis.from_url(base, decode_responses=True)
    try:
        text = await r.hget(f"{prefix}:obs:{job_id}", "opts")
    finally:
        await r.aclose()
    assert text, "the job hash has no opts"
    opts: dict[str, Any] = json.loads(text)
    return opts

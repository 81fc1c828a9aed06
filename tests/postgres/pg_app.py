"""A tiny app for the PostgreSQL tests: one wired queue and the client a build would generate.

Worker subprocesses import it as ``tests.postgres.pg_app``; with ``QGEN_PG_TEST_LOG`` set,
every finished run appends ``pid job_id attempt`` to that file.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker
from qgen.runtime.client import AsyncClientBase, ClientBase, QueueMeta


class Job(BaseModel):
    n: int
    secs: float = 0.0
    mode: str = "ok"  # "raise": always fails; "crash": kills its worker process


class Out(BaseModel):
    n: int
    attempt: int


@sessionless_func
async def run_job(services: Any, data: Job, interaction: Interaction) -> Out:
    q = interaction.queue
    assert q is not None
    if data.secs:
        await asyncio.sleep(data.secs)
    if data.mode == "raise":
        raise ValueError(f"poison {data.n}")
    if data.mode == "crash":
        os.kill(os.getpid(), signal.SIGKILL)
    log = os.environ.get("QGEN_PG_TEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {q.job_id} {q.attempt}\n")
    return Out(n=data.n, attempt=q.attempt)


CONFIG: dict[str, Any] = {
    "batch_size": 10,
    "visibility_timeout": 2,
    "max_stalled_count": 20,
    "attempts": 5,
    "poll_interval": 500,
}
FRAGILE: dict[str, Any] = {
    "batch_size": 5,
    "visibility_timeout": 1,
    "max_stalled_count": 2,
    "attempts": 3,
    "backoff": {"type": "fixed", "delay": 100},
    "dead_letter": "fragile-dead",
    "poll_interval": 200,
}
wire_queue_worker(queue="jobs", func=run_job, config=CONFIG)
wire_queue_worker(queue="fragile", func=run_job, config=FRAGILE)

QUEUES = {
    "jobs": QueueMeta("jobs", Job, Out, CONFIG),
    "fragile": QueueMeta("fragile", Job, Out, FRAGILE),
}


class AsyncQueueClient(AsyncClientBase):
    QUEUES = QUEUES


class QueueClient(ClientBase):
    QUEUES = QUEUES

"""A small qgen app for the SQS Lambda and reliability tests (wiring, functions, services).

Job ``kind`` steers the outcome: ``ok`` completes, ``boom`` raises (retried, then failed),
``discard`` discards, ``retry-once`` fails its first attempt only, ``sleep`` sleeps ``secs``.
Completed jobs are appended to the file named by ``$SQS_TEST_LOG`` (one line per run, O_APPEND),
so worker subprocesses can report what they did.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker

CREATED: list[Services] = []
CALLS: list[tuple[str, int]] = []


@dataclass
class Services:
    n: int
    calls: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def create_services() -> AsyncIterator[Services]:
    services = Services(len(CREATED) + 1)
    CREATED.append(services)
    yield services


class Job(BaseModel):
    id: str
    kind: str = "ok"
    secs: float = 0.0


def _log(line: str) -> None:
    path = os.environ.get("SQS_TEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)


@sessionless_func
async def run_job(services: Services, data: Job, interaction: Interaction) -> None:
    assert interaction.queue is not None
    attempt = interaction.queue.attempt
    CALLS.append((data.id, attempt))
    if data.kind == "boom":
        raise RuntimeError(f"boom {data.id}")
    if data.kind == "discard":
        interaction.queue.discard("not wanted")
    if data.kind == "retry-once" and attempt == 1:
        interaction.queue.fail("first try fails")
    if data.kind == "sleep":
        await asyncio.sleep(data.secs)
    _log(f"{os.getpid()} {data.id} {attempt}")


CONFIGS = {
    "lam": {"attempts": 3, "backoff": {"type": "fixed", "delay": 2000}, "dead_letter": "lam-dead"},
    "lam-dead": {"attempts": 1},
    "lam.fifo": {"attempts": 2, "backoff": {"type": "fixed", "delay": 1000}},
    "rel": {"attempts": 5, "visibility_timeout": 3, "drain_delay": 1, "batch_size": 10},
    "poison": {
        "attempts": 2,
        "visibility_timeout": 2,
        "drain_delay": 1,
        "backoff": {"type": "fixed", "delay": 0},
        "dead_letter": "poison-dead",
    },
    "poison-dead": {"autorun": False},
}
for _name, _config in CONFIGS.items():
    wire_queue_worker(queue=_name, func=run_job, config=_config)

"""Job functions of the schedules tests: each run appends its job id to the file named by
``SCHED_LOG``, one line per run, from every worker process (appends of one short line are
atomic), so a test counts runs by id across processes."""

from __future__ import annotations

import os

from pydantic import BaseModel

from qgen import Interaction, sessionless_func


class Tick(BaseModel):
    n: int


class Digest(BaseModel):
    kind: str


def _record(job_id: str) -> None:
    path = os.environ.get("SCHED_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{job_id}\n".encode())
        finally:
            os.close(fd)


@sessionless_func
async def tick(services: object, data: Tick, interaction: Interaction) -> None:
    assert interaction.queue is not None
    _record(interaction.queue.job_id)


@sessionless_func
async def digest(services: object, data: Digest, interaction: Interaction) -> None:
    assert interaction.queue is not None
    _record(interaction.queue.job_id)

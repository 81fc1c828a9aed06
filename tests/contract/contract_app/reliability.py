"""Wiring for the kill -9 reliability tests: one queue whose jobs append a line when they finish.

``QGEN_REL_RECORD`` names the file; each finished run appends ``<job_id> <attempt> <pid>``
(one short O_APPEND write, so lines from several processes never interleave).
"""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker


class RelTask(BaseModel):
    n: int
    sleep: float = 0.1
    poison: bool = False
    crash: bool = False  # kill the worker process (os._exit) instead of raising


class PoisonError(Exception):
    pass


@sessionless_func
async def rel_job(services: object, data: RelTask, interaction: Interaction) -> int:
    q = interaction.queue
    assert q is not None
    await asyncio.sleep(data.sleep)
    if data.crash:
        os._exit(3)  # the whole worker dies with this job leased
    if data.poison:
        raise PoisonError(f"poison {data.n}")
    fd = os.open(os.environ["QGEN_REL_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{q.job_id} {q.attempt} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return data.n


wire_queue_worker(
    queue="rel",
    func=rel_job,
    config={
        "batch_size": 10,
        "poll_interval": 20,
        "drain_delay": 1,
        "visibility_timeout": 2,
        "max_stalled_count": 10,
        "attempts": 3,
        "backoff": {"type": "fixed", "delay": 100},
    },
)

# A job that kills its worker is recovered when its lease runs out, at most max_stalled_count
# times; then it fails instead of killing workers forever.
wire_queue_worker(
    queue="crashy",
    func=rel_job,
    config={
        "batch_size": 4,
        "poll_interval": 20,
        "visibility_timeout": 1,
        "max_stalled_count": 2,
        "attempts": 5,
        "backoff": {"type": "fixed", "delay": 50},
    },
)

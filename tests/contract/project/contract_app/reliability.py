"""Wiring for the kill -9 reliability tests: one queue whose jobs append a line when they finish.

``QGEN_REL_RECORD`` names the file; each finished run appends ``<job_id> <attempt> <pid> <queue>
<n>`` (one short O_APPEND write, so lines from several processes never interleave).
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
    crash: bool = False  # kill the worker process (os._exit) when run on the "crashy" queue


class PoisonError(Exception):
    pass


@sessionless_func
async def rel_job(services: object, data: RelTask, interaction: Interaction) -> int:
    q = interaction.queue
    assert q is not None
    await asyncio.sleep(data.sleep)
    if data.crash and q.queue_name == "crashy":  # not its dead-letter copy
        os._exit(3)  # the whole worker dies with this job leased
    if data.poison:
        raise PoisonError(f"poison {data.n}")
    fd = os.open(os.environ["QGEN_REL_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        line = f"{q.job_id} {q.attempt} {os.getpid()} {q.queue_name} {data.n}\n"
        os.write(fd, line.encode())
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

# A job that kills its worker is recovered when its lease (visibility_timeout) or lock
# (lock_duration) runs out, at most max_stalled_count times; then it fails instead of killing
# workers forever, and its copy goes to the dead-letter queue.
wire_queue_worker(
    queue="crashy",
    func=rel_job,
    config={
        "batch_size": 4,
        "poll_interval": 20,
        "visibility_timeout": 1,
        "lock_duration": 1000,
        "max_stalled_count": 2,
        "attempts": 5,
        "backoff": {"type": "fixed", "delay": 50},
        "dead_letter": "crashy-dead",
    },
)
wire_queue_worker(queue="crashy-dead", func=rel_job, config={"poll_interval": 20, "attempts": 1})

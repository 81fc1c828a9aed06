"""500 queues (``rmany-000`` ... ``rmany-499``) wired to one job, for the Redis scale-out tests.
Wired in a loop, so it runs without a build (``python -m qgen.runtime.worker --wiring
redis_many_app``, with tests/redis on the path)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker

QUEUES = 500


def queue_name(i: int) -> str:
    return f"rmany-{i:03d}"


class Ran(BaseModel):
    queue: str


@sessionless_func
async def which_queue(services: Any, data: dict[str, Any], interaction: Interaction) -> Ran:
    assert interaction.queue is not None
    return Ran(queue=interaction.queue.queue_name)


for _i in range(QUEUES):
    wire_queue_worker(queue=queue_name(_i), func=which_queue, config={"drain_delay": 5})

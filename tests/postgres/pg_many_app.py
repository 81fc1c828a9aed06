"""150 queues (``many-000`` ... ``many-149``) wired to one job, for the PostgreSQL scale-out
tests: more queues than the server's default ``max_connections``. Wired in a loop, so it runs
without a build (``python -m qgen.runtime.worker --wiring tests.postgres.pg_many_app``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker

QUEUES = 150


def queue_name(i: int) -> str:
    return f"many-{i:03d}"


class Ran(BaseModel):
    queue: str


@sessionless_func
async def which_queue(services: Any, data: dict[str, Any], interaction: Interaction) -> Ran:
    assert interaction.queue is not None
    return Ran(queue=interaction.queue.queue_name)


for _i in range(QUEUES):
    wire_queue_worker(queue=queue_name(_i), func=which_queue, config={"poll_interval": 500})

"""The no-op job qgen runs in the SQS benchmark: typed input validated by pydantic, as a real
app would have it. ``DONE`` counts completed jobs in this process."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from qgen import sessionless_func, wire_queue_worker

QUEUE = "bench-noop"
DONE: list[int] = [0]


class Order(BaseModel):
    order_id: str
    amount: int
    currency: str


@sessionless_func(auth=False)
async def noop(services: Any, data: Order) -> None:
    DONE[0] += 1


wire_queue_worker(
    queue=QUEUE,
    func=noop,
    config={"batch_size": 10, "prefetch": 10, "attempts": 3, "drain_delay": 1},
)

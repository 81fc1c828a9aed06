"""The no-op job qgen runs in the Redis benchmark: typed input validated by pydantic, one
pass-through middleware, logging on, as a real app would have them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from qgen import sessionless_func, wire_queue_worker

QUEUE = "bench-noop"


class Order(BaseModel):
    order_id: str
    amount: int
    currency: str


@sessionless_func(auth=False)
async def noop(services: Any, data: Order) -> None:
    return None


async def passthrough(
    services: Any, interaction: Any, next_: Callable[[], Awaitable[None]]
) -> None:
    await next_()


wire_queue_worker(
    queue=QUEUE, func=noop, config={"batch_size": 10, "attempts": 1}, middleware=[passthrough]
)

"""One no-op job with a small typed payload: the worker still validates the input with pydantic
and runs it through the full runner, as a real app would."""

from __future__ import annotations

from pydantic import BaseModel

from benchapp.services import Services
from qgen import sessionless_func, wire_queue_worker

QUEUE = "bench-noop"


class Order(BaseModel):
    order_id: str
    amount: int
    currency: str


@sessionless_func(auth=False)
async def noop(services: Services, data: Order) -> None:
    services.meter.tick()


wire_queue_worker(queue="bench-noop", func=noop, config={"batch_size": 10})

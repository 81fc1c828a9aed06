"""One queue per kind of input."""

from __future__ import annotations

from qgen import sessionless_func, wire_queue_worker
from typo.types import Color, Line, Money, Node, Order, Receipt


@sessionless_func
async def take_order(services: object, data: Order) -> Receipt:
    return Receipt(order_id=data.order_id, total=data.total.amount)


@sessionless_func
async def count_nodes(services: object, data: Node) -> int:
    return 1 + sum([await count_nodes(services, c) for c in data.children])


@sessionless_func
async def ping(services: object, data: list[int]) -> None:
    return None


@sessionless_func
async def paint(services: object, data: Color) -> str:
    return data.value


@sessionless_func
async def change(services: object, data: Money) -> Money:
    return data


@sessionless_func
async def pack(services: object, data: Line) -> None:
    return None


wire_queue_worker(queue="orders", func=take_order)
wire_queue_worker(queue="trees", func=count_nodes)
wire_queue_worker(queue="pings", func=ping)
wire_queue_worker(queue="colors", func=paint)
wire_queue_worker(queue="moneys", func=change)
wire_queue_worker(queue="lines", func=pack)

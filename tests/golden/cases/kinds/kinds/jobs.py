"""Queue functions with many input and output kinds."""

from kinds.billing import Color, Invoice, Tree
from kinds.geo import Address
from qgen import sessionless_func, wire_queue_worker


@sessionless_func(docs={"summary": "Invoice in, colour out"})
async def bill(services: object, data: Invoice) -> Color:
    return data.color


@sessionless_func
async def walk(services: object, data: Tree) -> list[Tree]:
    return data.children


@sessionless_func
def locate(services: object, data: Address) -> dict[str, float]:
    return {"lat": data.lat}


@sessionless_func
def add_numbers(services: object, data: list[int]) -> int:
    return sum(data)


wire_queue_worker(queue="bill", func=bill)
wire_queue_worker(queue="walk.tree", func=walk)
wire_queue_worker(queue="locate", func=locate)
wire_queue_worker(queue="2sum", func=add_numbers)

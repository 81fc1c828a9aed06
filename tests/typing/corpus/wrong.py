"""Wrong usages of a generated client: every line marked ``# E`` must be a type error at that
line under both mypy --strict and basedpyright, and no other line may be one."""

from __future__ import annotations

from typing import Any

from typo.generated import models
from typo.generated.client import AsyncQueueClient, QueueClient
from typo.jobs import count_nodes, take_order
from typo.types import Node

BASE: models.OrderDict = {"order_id": "o1", "from": "a", "total": {"amount": 5}}


def wrong(client: QueueClient, conn: Any) -> None:
    client.orders.add({"order_id": 1, "from": "a", "total": {"amount": 5}})  # E
    client.orders.add({"order_idd": "o", "from": "a", "total": {"amount": 5}})  # E
    client.orders.add({"order_id": "o", "total": {"amount": 5}})  # E
    client.orders.add(BASE, dealy=5)  # E
    client.add("no-such-queue", BASE)  # E
    client.add("trees", BASE)  # E
    client.orders.add({"order_id": "o", "from": "a", "total": {"amount": "5"}})  # E
    client.orders.add({**BASE, "ship_to": {"stret": "s", "city": "c"}})  # E
    client.orders.add({**BASE, "color": "blue"})  # E
    client.orders.add({**BASE, "mode": "medium"})  # E
    client.orders.add({**BASE, "message-id": 5})  # E
    client.orders.add({**BASE, "code": 1.5})  # E
    client.orders.add({**BASE, "lines": [{"sku": "a", "qty": "1"}]})  # E
    client.orders.add({**BASE, "lines": [{"sku": "a"}]})  # E
    client.trees.add({"name": "a", "children": [{"name": 1}]})  # E
    client.trees.add({"name": "a", "children": [{"nam": "b"}]})  # E
    client.orders.add({"order_id": "o", "sender": "a", "total": {"amount": 5}})  # E
    text: str = client.orders.add(BASE).result()  # E
    number: int = client.pings.add([1]).result()  # E
    client.pings.add(["a"])  # E
    client.colors.add("purple")  # E
    client.moneys.add({"amount": 1, "currency": "JPY"})  # E
    models.Receipt(order_id="x", total="1")  # E
    client.orders.add(BASE, priority="high")  # E
    client.orders.add(BASE, delay="soon")  # E
    client.orders.add(BASE, job_id=5)  # E
    client.orders.add(BASE, backoff={"type": "fixed", "delai": 1})  # E
    client.orders.add(BASE, backoff={"type": "linear", "delay": 1})  # E
    client.orders.add_many([BASE], job_id="x")  # E
    other: int = client.orders.get("o1").result()  # E
    client.orderz.add(BASE)  # E
    client.orders.add(BASE, connection="conn")  # E
    client.orders.add(BASE, group=1)  # E
    client.lines.add({"sku": "a"})  # E
    client.orders.add({**BASE, "ship_to": {"street": "s", "city": "c", "country": "x"}})  # E
    client.orders.add(models.Receipt(order_id="x", total=1))  # E
    client.orders.add({**BASE, "when": 5})  # E
    client.add("orders", BASE, jobid="x")  # E
    client.orders.add({**BASE, "price": [1]})  # E
    client.orders.add({**BASE, "price": None})  # E
    as_float: float = models.Order.model_validate(BASE).price  # E
    client.lines.add({"sku": "a", "note": None})  # E
    print(text, number, other, conn, as_float)


async def wrong_async(client: AsyncQueueClient) -> None:
    receipt: models.Receipt = client.orders.get("o1").result()  # E
    handle = await client.add("orders", BASE)
    label: str = await handle.result()  # E
    await client.colors.add(models.Color)  # E
    page = await client.orders.jobs(status="failed")
    wrong_id: int = page.jobs[0].data.order_id  # E
    wrong_result: str = page.jobs[0].result  # E
    await client.orders.clean("completed", keep="all")  # E
    print(receipt, label, wrong_id, wrong_result)


async def wrong_direct_calls() -> None:
    """``@sessionless_func`` keeps the function's signature: a direct call is checked."""
    await take_order(object(), BASE)  # E
    total: str = await count_nodes(object(), Node(name="n"))  # E
    print(total)

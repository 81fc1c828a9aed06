"""Correct usages of a generated client: both checkers must find no error here."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import psycopg
from pydantic import MISSING
from typo.generated import models
from typo.generated.client import AsyncQueueClient, QueueClient
from typo.jobs import take_order
from typo.types import Order

BASE: models.OrderDict = {"order_id": "o1", "from": "a", "total": {"amount": 5}}


def dict_payload(client: QueueClient) -> models.Receipt:
    return client.orders.add({"order_id": "o1", "from": "a", "total": {"amount": 5}}).result()


def model_payload(client: QueueClient) -> str:
    order = models.Order.model_validate(BASE)
    return client.orders.add(order).result(timeout=1).order_id


def every_field(client: QueueClient) -> None:
    client.orders.add(
        {
            **BASE,
            "message-id": None,
            "color": "green",
            "mode": "slow",
            "ship_to": {"street": "s", "city": "c", "zip_code": None},
            "lines": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2, "note": "n"}],
            "tags": ["x", "y"],
            "code": "c-1",
            "when": dt.date(2024, 1, 31),
        }
    )
    client.orders.add({**BASE, "when": "2024-01-31", "tags": {"z"}, "code": 3})


def by_name_with_options(client: QueueClient) -> models.OrdersOutput:
    handle = client.add(
        "orders",
        BASE,
        job_id="o1",
        delay=dt.timedelta(seconds=5),
        priority=3,
        attempts=2,
        backoff={"type": "fixed", "delay": 10, "max_delay": 100, "jitter": 0.5},
    )
    return handle.result()


def recursive(client: QueueClient) -> int:
    tree: models.TreesInputDict = {"name": "a", "children": [{"name": "b", "children": []}]}
    return client.trees.add(tree).result() + client.add("trees", models.Node(name="c")).result()


def plain_types(client: QueueClient) -> str:
    nothing: None = client.pings.add([1, 2]).result()
    print(nothing)
    return client.colors.add("red").result()


def dataclass_and_typeddict(client: QueueClient) -> int:
    client.lines.add({"sku": "a", "qty": 1, "note": "n"})
    return client.moneys.add({"amount": 1}).result().amount


def decimals(client: QueueClient) -> decimal.Decimal:
    """A Decimal field is a Decimal in the model; a dict may hold what pydantic accepts."""
    client.orders.add({**BASE, "price": decimal.Decimal("1.10")})
    client.orders.add({**BASE, "price": "1.10"})
    client.orders.add({**BASE, "price": 2})
    return models.Order.model_validate(BASE).price + decimal.Decimal("0.01")


def left_out(client: QueueClient) -> str:
    """A key that may be left out and has no default stays absent: pydantic's MISSING."""
    line = models.Line(sku="a", qty=1)
    client.lines.add(line)
    return line.note if line.note is not MISSING else "none"


def many(client: QueueClient) -> list[str]:
    handles = client.orders.add_many([BASE, models.Order.model_validate(BASE)], delay=1, attempts=3)
    return [h.id for h in handles]


def handles_from_get(client: QueueClient) -> int:
    return client.orders.get("o1").result(timeout=5).total


def in_a_transaction(client: QueueClient, conn: psycopg.Connection[Any]) -> None:
    client.orders.add(BASE, connection=conn)
    client.add("orders", BASE, connection=conn, job_id="o2")


async def asynchronous(client: AsyncQueueClient) -> models.Receipt:
    handle = await client.orders.add(BASE, priority=1)
    again = await client.add("orders", BASE)
    print(await again.status(), await handle.progress())
    return await client.orders.get(handle.id).result()


def operate(client: QueueClient) -> list[str]:
    """The operator API: listed jobs' data and results are the queue's generated types."""
    page = client.orders.jobs(status="failed", limit=10)
    order_ids = [job.data.order_id for job in page.jobs]
    receipts = [job.result for job in client.orders.jobs("completed").jobs]
    total: int = client.orders.counts().waiting + len(receipts)
    again: bool = client.orders.get("o1").retry() or client.orders.get("o1").cancel()
    client.orders.clean("completed", older_than=dt.timedelta(days=1), keep=10)
    names = [w.name for w in client.workers()]
    print(total, again, client.orders.is_paused(), client.orders.retry_failed(limit=5))
    return order_ids + names + [str(r.order_id) for r in receipts if r is not None]


async def operate_async(client: AsyncQueueClient) -> str | None:
    page = await client.orders.jobs(status="waiting", cursor=None)
    await client.orders.pause()
    await client.orders.resume()
    return page.jobs[0].data.order_id if page.jobs else page.next_cursor


async def direct_call() -> int:
    """A job function stays directly callable, typed as written."""
    receipt = await take_order(object(), Order.model_validate(BASE))
    return receipt.total

"""An order with every shape the add-a-job form must handle: nested objects, lists of objects,
enums, optional and nullable fields, a map, a recursive type ($ref into $defs), constraints,
and a description holding markup (it must stay text on the page)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qgen import Interaction, sessionless_func


class Customer(BaseModel):
    name: str = Field(min_length=1, description="Full name")
    email: str | None = None


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}-\d+$", description="Like ABC-1")
    quantity: int = Field(ge=1, le=100)


class Category(BaseModel):
    name: str
    children: list[Category] = []


class Order(BaseModel):
    order_id: str = Field(min_length=1, max_length=40)
    amount: int = Field(gt=0, description="Amount in cents </script><b>not bold</b>")
    currency: Literal["EUR", "USD", "GBP"] = "EUR"
    customer: Customer
    items: list[Item] = []
    note: str | None = None
    labels: dict[str, str] = {}
    category: Category | None = None


class Receipt(BaseModel):
    order_id: str
    total: int = Field(description="Amount times the number of items")
    lines: int
    note: str | None = Field(default=None, description="The order's note, as given")


class DeclinedError(Exception):
    """Raised for amount 13: the message carries markup that must show as text."""


class FlakyError(Exception):
    """Raised for amount 17 the first time an order runs in this worker process."""


FLAKY_SEEN: set[str] = set()


@sessionless_func(docs={"summary": "Take an order and return its receipt"})
async def take_order(services: object, data: Order, interaction: Interaction) -> Receipt:
    if interaction.queue is not None:
        await interaction.queue.update_progress(50)
    if data.amount == 13:
        raise DeclinedError("<img src=x onerror=alert(13)> declined")
    if data.amount == 17 and data.order_id not in FLAKY_SEEN:
        FLAKY_SEEN.add(data.order_id)
        raise FlakyError(f"order {data.order_id} fails once")
    quantity = sum(item.quantity for item in data.items) or 1
    return Receipt(
        order_id=data.order_id, total=data.amount * quantity, lines=len(data.items), note=data.note
    )


@sessionless_func(docs={"summary": "Echo a word"})
async def echo(services: object, data: str) -> str:
    if data == "boom":
        raise ValueError("boom is not a word to echo")
    return data.upper()


@sessionless_func(docs={"summary": "Where echo's failed jobs wait (no worker runs it)"})
async def bury(services: object, data: str) -> None:
    return None

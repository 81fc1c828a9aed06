"""Every kind of type a queue may take, for the typing corpus."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
from typing import Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    street: str
    city: str
    zip_code: str | None = None


class Line(TypedDict):
    sku: str
    qty: int
    note: NotRequired[str]


@dataclasses.dataclass
class Money:
    amount: int
    currency: Literal["EUR", "USD"] = "EUR"


class Node(BaseModel):
    """A recursive type."""

    name: str
    children: list[Node] = []


class Order(BaseModel):
    """Models, TypedDicts, dataclasses, aliases, enums, Literals, optional and union fields."""

    order_id: str = Field(min_length=1)
    sender: str = Field(alias="from")
    message_id: str | None = Field(default=None, alias="message-id")
    color: Color = Color.RED
    mode: Literal["fast", "slow"] = "fast"
    ship_to: Address | None = None
    lines: list[Line] = []
    total: Money
    tags: set[str] = Field(default_factory=set)
    code: int | str = 0
    when: datetime.date | None = None
    price: decimal.Decimal = decimal.Decimal("9.99")


class Receipt(BaseModel):
    order_id: str
    total: int

"""One type per schema kind the design promises to carry through a queue."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Item(BaseModel):
    sku: str
    qty: int = 1


class Order(BaseModel):
    id: uuid.UUID
    items: list[Item]
    tags: set[str]
    meta: dict[str, int]
    pair: tuple[int, str]
    created: dt.datetime
    day: dt.date
    at: dt.time
    price: Decimal
    note: str | None = None
    color: Color = Color.RED
    kind: Literal["retail", "wholesale"] = "retail"


class Tree(BaseModel):
    name: str
    children: list[Tree] = []


class Mail(TypedDict):
    to: str
    subject: str
    cc: NotRequired[list[str]]


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str | None = None


Size = Literal["s", "m", "l"]
Positive = Annotated[int, Field(ge=0)]
Scalars = tuple[dt.datetime, dt.date, dt.time, uuid.UUID, Decimal]

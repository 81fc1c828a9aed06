"""Types from every supported kind."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from kinds import geo


class Color(enum.StrEnum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str


Score = Annotated[int, Field(ge=0, le=100)]


class Line(TypedDict):
    sku: str
    qty: int


class Invoice(BaseModel):
    """An invoice with many field kinds."""

    id: uuid.UUID
    issued: dt.date
    at: dt.datetime
    total: Decimal
    tip: Decimal = Decimal("0.50")
    fee: Decimal | None = None
    color: Color = Color.RED
    level: Level = Level.LOW
    mode: Literal["fast", "slow"] = "fast"
    note: str | None = None
    lines: list[Line] = []
    tags: set[str] | None = None
    pair: tuple[int, str] | None = None
    meta: dict[str, int] = {}
    score: Score = 50
    bill_to: Address
    ship_to: geo.Address | None = None
    code: int | str = 0


class Tree(BaseModel):
    name: str
    children: list[Tree] = []

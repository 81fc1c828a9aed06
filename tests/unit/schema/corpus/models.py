from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from .enums import Color, Level


class Simple(BaseModel):
    name: str
    count: int


class WithDefaults(BaseModel):
    """A model with defaults.

    Second paragraph.
    """

    name: str = "x"
    ratio: float = 0.5
    flag: bool = False
    items: list[int] = []
    maybe: int | None = None
    made: list[str] = Field(default_factory=list)
    pair: tuple[int, int] = (1, 2)


class Constrained(BaseModel):
    amount: int = Field(gt=0, description="in cents")
    code: str = Field(..., min_length=3, max_length=3, title="ISO code")
    tags: list[str] = Field(default=[], max_length=5, examples=[["a"]])
    label: str | None = Field(None, max_length=10)
    pct: float = Field(1.0, ge=0, le=100)
    renamed: int = Field(0, alias="renamedField")


class Order(BaseModel):
    id: str
    color: Color = Color.RED
    level: Level = Level.HIGH
    lines: list[Line]
    when: dt.datetime | None = None
    kind: Literal["retail", "wholesale"] = "retail"


class Line(BaseModel):
    sku: str
    qty: int = 1


class Base(BaseModel):
    id: int
    created: dt.date


class Child(Base):
    """A child."""

    name: str
    id: int = 5


class Node(BaseModel):
    value: int
    children: list[Node] = []
    parent: Node | None = None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", title="StrictTitle")

    x: int
    version: ClassVar[int] = 1
    _secret: str = "hidden"


class Outer(BaseModel):
    inner: Simple
    maybe_inner: Simple | None = None
    by_name: dict[str, Simple] = {}
    described: Simple = Field(description="the inner one")


class Qualified(pydantic.BaseModel):
    when: dt.time
    span: dt.timedelta

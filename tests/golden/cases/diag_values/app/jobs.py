"""Defaults, bounds and examples JSON cannot carry: each is refused at its own place (QG204);
qgen's own schema marks cannot be set by hand (QG203)."""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal

from pydantic import BaseModel, Field

from qgen import sessionless_func, wire_queue_worker

LIMIT = 1e999  # a float literal too big for a double: inf
LIMIT_OK = 1e300


class Reading(BaseModel):
    nan: float = float("nan")
    inf: float = math.inf
    huge: float = 1e999
    negative: float = -1e999
    negated: float = -math.inf
    through_a_constant: float = LIMIT
    in_a_list: list[float] = [1.0, float("-inf")]
    by_field: float = Field(default=math.nan)
    bound: float = Field(0.0, le=float("inf"))
    example: float = Field(0.0, examples=[float("inf")])
    money: Decimal = Decimal("NaN")
    fine: float = float("1.5")
    fine_negated: float = -LIMIT_OK
    fine_money: Decimal = Decimal("0.10")
    spoofed: str = Field("1", json_schema_extra={"x-qgen-type": "decimal"})


@dataclasses.dataclass
class Sample:
    value: float = dataclasses.field(default=float("inf"))


@sessionless_func
async def read(services: object, data: Reading) -> None:
    return None


@sessionless_func
async def sample(services: object, data: Sample) -> None:
    return None


wire_queue_worker(queue="readings", func=read)
wire_queue_worker(queue="samples", func=sample)

# ruff: noqa: UP045  (the corpus spells types the old ways on purpose)
from typing import Optional

from pydantic import BaseModel

from .cross import a as mod_a
from .cross.b import Item as BItem


class Tree(BaseModel):
    left: Optional["Tree"] = None
    right: "Optional[Tree]" = None
    label: "str"


class UsesBoth(BaseModel):
    first: mod_a.Item
    second: BItem


class ViaPackage(BaseModel):
    order: "ReexportedOrder"
    address: "Address"


from . import Address, ReexportedOrder  # noqa: E402

# ruff: noqa: UP035  (the corpus spells types the old ways on purpose)
from typing import Optional

from typing_extensions import NotRequired, Required, TypedDict


class Address(TypedDict):
    """Postal address."""

    street: str
    city: str
    zip: NotRequired[str]


class Partial(TypedDict, total=False):
    a: int
    b: Required[str]


class Extended(Partial):
    c: float
    d: Optional["Address"]

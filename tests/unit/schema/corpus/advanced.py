# ruff: noqa: UP006, UP007, UP035, UP045  (the corpus spells types the old ways on purpose)
"""Harder cases: Annotated fields, unions of models, mutual recursion, typing.* containers."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Dict, List, Literal, Optional, Set, Tuple, Union

from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType, TypedDict

from .enums import Color, Level
from .primitives import ListInt, PositiveInt


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool = True


class Pets(BaseModel):
    pets: list[Cat | Dog]
    favourite: Union[Cat, Dog, None] = None
    pair: tuple[Cat, int]


class Annotations(BaseModel):
    a: Annotated[int, Field(gt=0)] = 5
    b: Annotated[str, Field(description="bee")]
    c: PositiveInt = 1
    d: Annotated[Optional[int], Field(ge=0)] = None
    e: ListInt = Field(default_factory=list, title="Ids")
    f: Annotated[list[Annotated[int, Field(lt=5)]], Field(max_length=2)] = []


class Extras(BaseModel, extra="allow"):
    old: int = Field(0, deprecated=True)
    rich: str = Field("", json_schema_extra={"x-widget": "text"})
    colors: list[Color] = [Color.RED]
    levels: Dict[str, Level] = {}
    picked: Literal[Color.GREEN] = Color.GREEN
    uid: uuid.UUID
    small: Set[int] = {1}
    legacy: List[Tuple[int, str]] = []


class Inner(TypedDict):
    n: int


@dataclass
class Spot:
    x: float


class Holder(BaseModel):
    inner: Inner
    spot: Spot
    maybe: Optional[Spot]
    titled: Cat = Field(title="The cat")


class Ping(BaseModel):
    pong: Optional["Pong"] = None


class Pong(BaseModel):
    ping: Ping


class TreeDict(TypedDict):
    name: str
    kids: list["TreeDict"]


Pets_or_list = Union[Pets, list[Pets]]


Ids = TypeAliasType("Ids", list[int])


class UsesAlias(BaseModel):
    ids: Ids
    more: Ids = []


class Puppy(BaseModel):
    kind: Literal["dog", "puppy"] = "dog"


class Tagged(BaseModel):
    pet: Union[Cat, Puppy] = Field(discriminator="kind")
    pets: list[Annotated[Cat | Puppy, Field(discriminator="kind")]] = []
    maybe: Optional[Annotated[Cat | Puppy, Field(discriminator="kind")]] = None
    direct: Cat | Puppy | None = Field(None, discriminator="kind")


LIMIT = 10
DESCRIPTION = "how many"
NAMES = ("a", "b")


class Constants(BaseModel):
    limit: int = Field(LIMIT, description=DESCRIPTION, le=100)
    empty: frozenset[int] = frozenset()
    mapping: dict[str, int] = dict()
    default_names: tuple[str, ...] = NAMES


DescribedCat = Annotated[Cat, Field(description="a described cat")]
MaybeCat = Optional[Cat]
CatOrDog = Cat | Dog
Recursive = Optional[TreeDict]


ColorAlias = Color


class AliasDefaults(BaseModel):
    color: Color = ColorAlias.GREEN
    many: list[Literal[Color.RED, Level.LOW]] = [Color.RED]


class Mixin:
    mixed: int = 1

    def hello(self) -> str:
        return "hi"


class WithMixin(Mixin, BaseModel):
    own: str

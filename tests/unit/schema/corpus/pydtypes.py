"""pydantic's own constrained and special types, and a few stdlib ones."""

import ipaddress
import pathlib

import pydantic
from pydantic import BaseModel, Field, HttpUrl, PositiveInt, RootModel, SecretStr
from pydantic.types import NonNegativeFloat, StrictStr


class Special(BaseModel):
    count: PositiveInt
    ratio: NonNegativeFloat = 0.0
    name: StrictStr
    url: HttpUrl
    home: pydantic.AnyUrl | None = None
    secret: SecretStr
    path: pathlib.Path
    ip: ipaddress.IPv4Address
    born: pydantic.PastDate
    ident: pydantic.UUID4


class Ids(RootModel[list[int]]):
    """Some ids."""


class Names(RootModel):
    root: list[str] = Field(min_length=1)


class WithRoots(BaseModel):
    ids: Ids
    names: Names = Names(["a"])

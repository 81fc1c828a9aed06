"""pydantic's own constrained and special types, and a few stdlib ones."""

import ipaddress
import pathlib

import pydantic
from pydantic import BaseModel, HttpUrl, PositiveInt, SecretStr
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

"""A model named Address, different from billing.Address: the two must not collide."""

from pydantic import BaseModel


class Address(BaseModel):
    lat: float
    lon: float

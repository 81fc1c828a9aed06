"""Type definitions whose static schema is compared with pydantic's (see test_schema_corpus)."""

from .models import Order as ReexportedOrder
from .typed import Address

__all__ = ["Address", "ReexportedOrder"]

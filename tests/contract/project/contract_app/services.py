"""Services factory: an async context manager, entered once per worker process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

CREATED: list[Services] = []
CLOSED: list[Services] = []


@dataclass
class Services:
    created: int
    calls: list[tuple[str, str]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def create_services() -> AsyncIterator[Services]:
    services = Services(created=len(CREATED) + 1)
    CREATED.append(services)
    try:
        yield services
    finally:
        CLOSED.append(services)


def all_calls() -> list[Any]:
    return [c for s in CREATED for c in s.calls]

"""Middleware wrapping job calls."""

from collections.abc import Awaitable, Callable
from typing import Any


async def audit(services: Any, interaction: Any, next_: Callable[[], Awaitable[None]]) -> None:
    await next_()

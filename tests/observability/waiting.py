"""Waiting on a condition (never on a clock): poll until it holds, fail with the last value
after a deadline meant for a hung test, not as a speed requirement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def until(
    probe: Callable[[], T],
    ok: Callable[[T], bool],
    *,
    what: str,
    alive: Callable[[], None] | None = None,
    timeout: float = 60.0,
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r:.2000}")
        await asyncio.sleep(0.05)


def by_attr(items: list[dict[str, Any]], key: str, value: Any) -> list[dict[str, Any]]:
    return [s for s in items if s["attributes"].get(key) == value]

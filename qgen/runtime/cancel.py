"""Calls of a background loop that must not lose its task's cancellation.

On Python 3.11 a client library can turn the ``CancelledError`` thrown into it into an error of
its own (redis-py's connect raises ``TimeoutError``; psycopg, boto3's thread pool and backends
have their own) or swallow it and return. A loop that catches ``Exception`` around the call and
goes on would then run forever: the cancel request is used up, so its next sleep is not
interrupted, and whoever cancelled it waits for it (the worker's stop). The task still says
it was asked to stop (``Task.cancelling()``), so :func:`cancel_safe` asks it after each call.
Hot loops use :func:`raise_if_cancelled` instead (no extra await): once per round and after a
caught error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def cancel_safe(call: Awaitable[T]) -> T:
    """Await ``call``; raise ``CancelledError`` instead of what it returned or raised when the
    current task was cancelled meanwhile."""
    try:
        return await call
    finally:
        raise_if_cancelled()  # the stop wins over what the call did


def raise_if_cancelled() -> None:
    """Raise ``CancelledError`` when the current task was cancelled and a call under it lost
    the cancellation (returned, or raised an error of its own)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError

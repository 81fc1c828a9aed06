from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from qgen.runtime.backends.base import Handler
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.backends.sqlite.url import parse_url
from qgen.runtime.settings import QueueSettings


async def run_until(
    backend: SqliteBackend,
    settings: Sequence[QueueSettings],
    handle: Handler,
    done: Callable[[], Awaitable[bool]],
    timeout: float = 30.0,  # a deadline for a hung test, not a speed requirement
    grace: float = 5.0,
) -> None:
    consumer = backend.consume(settings, handle)
    task = asyncio.create_task(consumer.run())
    deadline = time.monotonic() + timeout
    try:
        while not await done():
            assert not task.done(), task
            assert time.monotonic() < deadline, "condition not reached in time"
            await asyncio.sleep(0.01)
    finally:
        await consumer.stop(grace)
        await asyncio.wait_for(task, 10)


def rows(target: SqliteBackend | str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the queue file directly, on a connection of its own."""
    path = target.url.path if isinstance(target, SqliteBackend) else parse_url(target).path
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def db_path(url: str) -> Path:
    return parse_url(url).path

"""Helpers of the PostgreSQL tests: consumers with handlers written here, SQL peeks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

from qgen.runtime.backends.base import Delivery, Outcome, QueueSettings
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres_conn import parse_url


@contextlib.asynccontextmanager
async def consuming(
    backend: PostgresBackend,
    handle: Callable[[Delivery], Awaitable[Outcome]],
    queue: str = "q",
    grace: float = 5.0,
    **config: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    consumer = backend.consume([QueueSettings(queue, {"batch_size": 10, **config})], handle)
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        await consumer.stop(grace)
        await asyncio.wait_for(task, 30)


async def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``query`` with ``{s}`` standing for the test's schema."""
    pg = parse_url(url)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        cur = conn.execute(sql.SQL(query).format(s=sql.Identifier(pg.schema)), params)
        return cur.fetchall() if cur.description else []

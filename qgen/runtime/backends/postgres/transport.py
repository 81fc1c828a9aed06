"""Connections of the PostgreSQL backend: opening them, and a shared side connection that
reconnects on demand. Every connection is in autocommit mode: a statement, or a pipeline up to
its sync, is one transaction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg.conninfo

from qgen.runtime.backends.lanes import Backoff

log = logging.getLogger("qgen.postgres")

# Errors after which a connection is replaced (server restart, network): anything else is a bug.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)
WORKER_APP = "qgen-worker"  # application_name of worker connections (pg_stat_activity)


async def connect(
    conninfo: str, *, prepare: bool = True, application_name: str | None = None
) -> psycopg.AsyncConnection[Any]:
    if application_name:
        conninfo = psycopg.conninfo.make_conninfo(conninfo, application_name=application_name)
    conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True
    )
    if prepare:
        conn.prepare_threshold = 0  # the same few statements run thousands of times
    return conn


async def close_quietly(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


class SideConnection:
    """A shared connection for heartbeats, progress and recovery; reconnects on demand."""

    def __init__(self, conninfo: str, app: str = WORKER_APP) -> None:
        self.conninfo, self.app = conninfo, app
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.lock = asyncio.Lock()

    async def execute(self, stmt: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        backoff = Backoff()
        while True:
            try:
                async with self.lock:
                    if self.conn is None or self.conn.closed:
                        self.conn = await connect(self.conninfo, application_name=self.app)
                    cur = await self.conn.execute(stmt, params)
                    return await cur.fetchall() if cur.description else []
            except CONNECTION_ERRORS as exc:
                await self.close()
                delay = backoff.next()
                log.warning("side connection lost (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        await close_quietly(conn)

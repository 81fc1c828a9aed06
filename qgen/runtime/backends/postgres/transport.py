"""Connections of the PostgreSQL backend: opening them, and the one shared connection of a
process per server and event loop.

Every connection is in autocommit mode: a statement, or a pipeline up to its sync, is one
transaction. Clients, and a worker's side work (heartbeats, progress, recovery), run on a
:class:`SharedConnection`: every backend opened on the same event loop for the same server
shares it (reference counted), so many clients or queues in one process never open a
connection each. An asyncio connection belongs to its event loop, so the sharing is per loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
import psycopg.conninfo

from qgen.runtime.backends.lanes import Backoff
from qgen.runtime.cancel import raise_if_cancelled

log = logging.getLogger("qgen.postgres")
T = TypeVar("T")

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


def app_name(conninfo: str, default: str) -> str:
    """The URL's own ``application_name`` when it has one (so a deployment can tell its
    processes apart in ``pg_stat_activity``), else ``default``."""
    given = psycopg.conninfo.conninfo_to_dict(conninfo).get("application_name")
    return str(given) if given else default


async def close_quietly(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()


class SharedConnection:
    """One reconnecting connection, used by every backend of a process on one event loop for
    one server. Operations take turns (an operation may be a pipeline or a transaction, which
    must not interleave with another's statements)."""

    def __init__(self, conninfo: str, loop: asyncio.AbstractEventLoop) -> None:
        self.conninfo = conninfo
        self.loop = loop  # held, so the registry's key (its id) is never reused meanwhile
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.lock = asyncio.Lock()
        self.refs = 0

    async def open(self) -> None:
        """Connect now (raising when the server cannot be reached)."""
        async with self.lock:
            await self._ensure()

    async def _ensure(self) -> psycopg.AsyncConnection[Any]:
        if self.conn is None or self.conn.closed:
            self.conn = await connect(self.conninfo)
        return self.conn

    async def run(
        self,
        op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]],
        retry_for: float | None = None,
    ) -> T:
        """Run ``op`` alone on the connection, reconnecting with backoff after a lost
        connection, for ``retry_for`` seconds (None: until it succeeds). Callers make ``op``
        safe to run again after a lost reply (ids chosen by the client, guarded updates)."""
        backoff = Backoff()
        deadline = None if retry_for is None else time.monotonic() + retry_for
        while True:
            try:
                async with self.lock:
                    return await op(await self._ensure())
            except CONNECTION_ERRORS as exc:
                raise_if_cancelled()  # psycopg turned the cancel into this: stop, not retry
                await self._drop()
                if deadline is not None and time.monotonic() > deadline:
                    raise
                delay = backoff.next()
                log.warning("connection lost (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    async def execute(
        self, stmt: Any, params: Sequence[Any], retry_for: float | None = None
    ) -> list[tuple[Any, ...]]:
        async def op(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cur = await conn.execute(stmt, params)
            return await cur.fetchall() if cur.description else []

        return await self.run(op, retry_for)

    async def _drop(self) -> None:
        conn, self.conn = self.conn, None
        await close_quietly(conn)


_SHARED: dict[tuple[int, str], SharedConnection] = {}


async def acquire(conninfo: str) -> SharedConnection:
    """The shared connection of this event loop for ``conninfo``, connected (raising when the
    server cannot be reached); every :func:`acquire` needs one :func:`release`."""
    loop = asyncio.get_running_loop()
    key = (id(loop), conninfo)
    shared = _SHARED.get(key)
    if shared is None or shared.loop is not loop:
        shared = _SHARED[key] = SharedConnection(conninfo, loop)
    shared.refs += 1
    try:
        await shared.open()
    except BaseException:
        await release(shared)
        raise
    return shared


async def release(shared: SharedConnection) -> None:
    shared.refs -= 1
    if shared.refs > 0:
        return
    key = (id(shared.loop), shared.conninfo)
    if _SHARED.get(key) is shared:
        del _SHARED[key]
    async with shared.lock:
        await shared._drop()

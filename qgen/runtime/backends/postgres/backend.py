"""PostgreSQL backend with pg-boss semantics, on psycopg 3.

The schema (``?schema=`` of the URL) is created and migrated under an advisory lock by
``qgen setup`` / ``qgen migrate`` (:meth:`PostgresBackend.provision`), by workers at start-up and
lazily by the first client use. ``add(..., connection=conn)`` inserts on the caller's psycopg
connection, inside the caller's transaction: the job exists only if they commit, and its NOTIFY
is delivered only then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Self, TypeVar

import psycopg

from qgen.runtime.backends.base import JSON, AddOptions, Handler, JobInfo, Provisioned
from qgen.runtime.backends.postgres.consumer import PostgresNative
from qgen.runtime.backends.postgres.jobs import insert_row, job_info
from qgen.runtime.backends.postgres.lanes import PgLane
from qgen.runtime.backends.postgres.migrations import migrate, migrate_conn
from qgen.runtime.backends.postgres.notify import (
    Listener,
    Waiters,
    WaitHub,
    acquire_hub,
    release_hub,
)
from qgen.runtime.backends.postgres.ops import PgOps
from qgen.runtime.backends.postgres.sql import WAITER_HELLO, Statements
from qgen.runtime.backends.postgres.transport import (
    CONNECTION_ERRORS,
    SharedConnection,
    acquire,
    release,
)
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.errors import JobNotFound, JobTimeout
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs, QueueSettings, SettingsBook, for_backend

T = TypeVar("T")

RECHECK = 5.0  # s: a waiter looks again this often in case a notification was lost
RETRY_FOR = 15.0  # s: client calls retry a lost connection this long before raising


class PostgresBackend(PgOps):
    name: ClassVar[str] = "postgres"

    def __init__(self, url: str, queues: QueueConfigs, shared: SharedConnection) -> None:
        pg = parse_url(url)
        self.conninfo, self.schema = pg.conninfo, pg.schema
        self.worker_connections = pg.worker_connections
        self.settings = SettingsBook(queues, self.name)
        self.st = Statements(pg.schema)
        self._shared: SharedConnection | None = shared
        self._hub: WaitHub | None = None

    @classmethod
    async def provision(
        cls, url: str, queues: QueueConfigs, *, schedules: Sequence[Schedule] = ()
    ) -> Provisioned:
        """Apply the schema's missing migrations (queues need nothing)."""
        applied = await migrate(url)
        if applied:
            return Provisioned(f"applied migrations {', '.join(map(str, applied))}")
        return Provisioned("database schema is up to date")

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        pg = parse_url(url)
        shared = await acquire(pg.conninfo)
        try:
            await shared.run(lambda conn: migrate_conn(conn, pg.schema), retry_for=0)
        except BaseException:
            await release(shared)
            raise
        return cls(url, queues, shared)

    async def close(self) -> None:
        hub, self._hub = self._hub, None
        if hub is not None:
            await release_hub(hub)
        shared, self._shared = self._shared, None
        if shared is not None:
            await release(shared)

    async def _with_conn(self, op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run ``op`` on the process's shared connection, reconnecting with backoff for a
        while. Every write is idempotent (ids are chosen here, inserts do nothing on
        conflict), so running one again after a lost reply is safe."""
        if self._shared is None:
            raise RuntimeError("the PostgreSQL backend is closed")
        return await self._shared.run(op, retry_for=RETRY_FOR)

    # -- producing ---------------------------------------------------------------------------

    def _row(self, queue: str, data: JSON, o: AddOptions) -> tuple[Any, ...]:
        return insert_row(queue, data, o, self.settings[queue])

    def unreachable(self, exc: BaseException) -> bool:
        """A connection error past RETRY_FOR: psycopg's own (no SQLSTATE: refused, closed),
        class 08 (connection exception) or 57P (the server shutting down or starting)."""
        if not isinstance(exc, CONNECTION_ERRORS):
            return False
        state = getattr(exc, "sqlstate", None)
        return state is None or state.startswith(("08", "57P"))

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        row = self._row(queue, data, options)
        # delayed jobs notify too: an idle worker then learns when to wake up
        stmt, params = self.st.insert_notify, (*row, self.st.new_channel, queue)
        caller = options.extra.get("connection")
        if caller is not None:
            await _execute_on(caller, stmt, params)
        else:

            async def op(conn: psycopg.AsyncConnection[Any]) -> None:
                await conn.execute(stmt, params)

            await self._with_conn(op)
        return str(row[1])

    async def enqueue_many(self, queue: str, items: Sequence[tuple[JSON, AddOptions]]) -> list[str]:
        if not items:
            return []
        rows = [self._row(queue, data, o) for data, o in items]
        params = (
            queue,
            self.settings[queue].dead_letter,
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            [r[5] for r in rows],
            [r[6] for r in rows],
            [r[8] for r in rows],
        )
        notify = (self.st.new_channel, queue)
        caller = next((o.extra["connection"] for _, o in items if "connection" in o.extra), None)
        if caller is not None:
            await _execute_on(caller, self.st.insert_many, params)
            await _execute_on(caller, self.st.notify, notify)
        else:

            async def op(conn: psycopg.AsyncConnection[Any]) -> None:
                async with conn.pipeline():
                    await conn.execute(self.st.insert_many, params)
                    await conn.execute(self.st.notify, notify)

            await self._with_conn(op)
        return [str(r[1]) for r in rows]

    # -- reading -----------------------------------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        async def op(conn: psycopg.AsyncConnection[Any]) -> tuple[Any, ...] | None:
            cur = await conn.execute(self.st.get, (queue, job_id))
            return await cur.fetchone()

        row = await self._with_conn(op)
        return None if row is None else job_info(queue, row)

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        hub = await self._wait_hub()
        ev = hub.waiters.add(queue, job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                ev.clear()
                info = await self.get(queue, job_id)
                if info is None:
                    raise JobNotFound(queue, job_id)
                if info.status.finished:
                    return info
                wait_for = RECHECK
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise JobTimeout(
                            f"job {job_id!r} on {queue!r} did not finish within {timeout} s"
                        )
                    wait_for = min(wait_for, left)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), wait_for)
        finally:
            hub.waiters.remove(queue, job_id, ev)

    async def _wait_hub(self) -> WaitHub:
        if self._hub is None:
            self._hub = acquire_hub(self.conninfo, self.schema)
        st, conninfo = self.st, self.conninfo

        def listener(waiters: Waiters) -> Listener:
            return Listener(
                conninfo,
                [st.done_channel],
                waiters.notify,
                waiters.wake_all,
                application_name=st.waiter_app,
                hello=(st.new_channel, WAITER_HELLO),
            )

        await self._hub.start(listener)
        return self._hub

    # -- consuming ---------------------------------------------------------------------------

    def consume(self, queues: Sequence[QueueSettings], handle: Handler) -> ConsumerSkeleton[PgLane]:
        queues = for_backend(queues, self.name)
        # the name operators see (JobInfo.worker, WorkerInfo): the first queue's ``name``
        # config, else host:pid; the suffix tells this consumer's leases apart
        given = next((s.worker_name for s in queues if s.worker_name), None)
        name = given or f"{socket.gethostname()}:{os.getpid()}"
        if self._shared is None:
            raise RuntimeError("the PostgreSQL backend is closed")
        native = PostgresNative(
            self.conninfo,
            self.st,
            f"{name}:{uuid.uuid4().hex[:12]}",
            self._shared,
            self.worker_connections,
        )
        return ConsumerSkeleton(native, queues, handle)


async def _execute_on(caller: Any, stmt: Any, params: Sequence[Any]) -> None:
    """Run one statement on the caller's own connection (sync or async), in their transaction."""
    if isinstance(caller, psycopg.AsyncConnection):
        await caller.execute(stmt, params)
    elif isinstance(caller, psycopg.Connection):
        caller.execute(stmt, params)  # sync: the caller's own transaction, on this thread
    else:
        raise TypeError(
            "connection= must be a psycopg Connection or AsyncConnection, "
            f"not {type(caller).__name__}"
        )


__all__ = ["PostgresBackend"]

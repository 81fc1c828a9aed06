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
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Self, TypeVar

import psycopg

from qgen.runtime.backends.base import JSON, AddOptions, Handler, JobInfo, Provisioned
from qgen.runtime.backends.lanes import Backoff
from qgen.runtime.backends.postgres.consumer import PgLane, PostgresNative
from qgen.runtime.backends.postgres.jobs import insert_row, job_info
from qgen.runtime.backends.postgres.migrations import migrate, migrate_conn
from qgen.runtime.backends.postgres.notify import Listener, Waiters
from qgen.runtime.backends.postgres.sql import WAITER_HELLO, Statements
from qgen.runtime.backends.postgres.transport import CONNECTION_ERRORS, connect
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.errors import JobNotFound, JobTimeout
from qgen.runtime.settings import QueueConfigs, QueueSettings, SettingsBook, for_backend

T = TypeVar("T")

RECHECK = 5.0  # s: a waiter looks again this often in case a notification was lost
RETRY_FOR = 15.0  # s: client calls retry a lost connection this long before raising


class PostgresBackend:
    name: ClassVar[str] = "postgres"

    def __init__(self, url: str, queues: QueueConfigs, conn: psycopg.AsyncConnection[Any]) -> None:
        pg = parse_url(url)
        self.conninfo, self.schema = pg.conninfo, pg.schema
        self.settings = SettingsBook(queues, self.name)
        self.st = Statements(pg.schema)
        self._conn: psycopg.AsyncConnection[Any] | None = conn
        self._conn_lock = asyncio.Lock()
        self._waiters = Waiters()
        self._listener: Listener | None = None
        self._listener_lock = asyncio.Lock()

    @classmethod
    async def provision(cls, url: str, queues: QueueConfigs) -> Provisioned:
        """Apply the schema's missing migrations (queues need nothing)."""
        applied = await migrate(url)
        if applied:
            return Provisioned(f"applied migrations {', '.join(map(str, applied))}")
        return Provisioned("database schema is up to date")

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        pg = parse_url(url)
        conn = await connect(pg.conninfo)
        try:
            await migrate_conn(conn, pg.schema)
        except BaseException:
            await conn.close()
            raise
        return cls(url, queues, conn)

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    # -- connection handling ---------------------------------------------------------------

    async def _with_conn(self, op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run ``op`` on the client connection, reconnecting with backoff for a while. Every
        write is idempotent (ids are chosen here, inserts do nothing on conflict), so running
        one again after a lost reply is safe."""
        backoff = Backoff()
        deadline = time.monotonic() + RETRY_FOR
        while True:
            conn = self._conn
            try:
                if conn is None or conn.closed:
                    async with self._conn_lock:
                        if self._conn is None or self._conn.closed:
                            self._conn = await connect(self.conninfo)
                        conn = self._conn
                return await op(conn)
            except CONNECTION_ERRORS:
                if time.monotonic() > deadline:
                    raise
                if conn is not None and conn is self._conn:
                    with contextlib.suppress(Exception):
                        await conn.close()
                    self._conn = None
                await asyncio.sleep(backoff.next())

    # -- producing ---------------------------------------------------------------------------

    def _row(self, queue: str, data: JSON, o: AddOptions) -> tuple[Any, ...]:
        return insert_row(queue, data, o, self.settings[queue])

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
        return None if row is None else job_info(queue, job_id, row)

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        await self._ensure_listener()
        ev = self._waiters.add(queue, job_id)
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
            self._waiters.remove(queue, job_id, ev)

    async def _ensure_listener(self) -> None:
        if self._listener is not None:
            return
        async with self._listener_lock:
            if self._listener is None:
                listener = Listener(
                    self.conninfo,
                    [self.st.done_channel],
                    self._waiters.notify,
                    self._waiters.wake_all,
                    application_name=self.st.waiter_app,
                    hello=(self.st.new_channel, WAITER_HELLO),
                )
                await listener.start()
                self._listener = listener

    # -- consuming ---------------------------------------------------------------------------

    def consume(self, queues: Sequence[QueueSettings], handle: Handler) -> ConsumerSkeleton[PgLane]:
        queues = for_backend(queues, self.name)
        name = (queues[0].worker_name if queues else None) or "worker"
        native = PostgresNative(self.conninfo, self.st, f"{name}:{uuid.uuid4().hex[:12]}")
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

"""LISTEN/NOTIFY for the PostgreSQL backend: one listening connection that reconnects.

Workers listen on the new-job channel (payload: queue name) to wake idle loops within
milliseconds; clients listen on the finished-job channel (payload ``queue\\nid,id,...`` or
``queue\\n*``) so ``wait()`` is pushed instead of polling. After a reconnect notifications may
have been missed, so ``on_reconnect`` lets the owner look again. Every client of a process on one
event loop waits through one :class:`WaitHub` per server and schema (one LISTEN connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from qgen.runtime.backends.lanes import Backoff
from qgen.runtime.backends.postgres.transport import CONNECTION_ERRORS, close_quietly, connect
from qgen.runtime.cancel import raise_if_cancelled

log = logging.getLogger("qgen.postgres")


class Listener:
    def __init__(
        self,
        conninfo: str,
        channels: Sequence[str],
        on_notify: Callable[[str, str], None],
        on_reconnect: Callable[[], None] = lambda: None,
        *,
        application_name: str | None = None,
        hello: tuple[str, str] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.channels = list(channels)
        self.on_notify = on_notify
        self.on_reconnect = on_reconnect
        self.application_name = application_name
        self.hello = hello  # (channel, payload) sent once listening: "I am here now"
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Connect and LISTEN now (raising if the server is unreachable), then keep listening."""
        self._conn = await self._listen()
        self._task = asyncio.create_task(self._run(), name="qgen-pg-listener")

    async def _listen(self) -> psycopg.AsyncConnection[Any]:
        conn = await connect(self.conninfo, prepare=False, application_name=self.application_name)
        for ch in self.channels:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(ch)))
        if self.hello is not None:
            await conn.execute("SELECT pg_notify(%s, %s)", self.hello)
        self._ready.set()
        return conn

    async def _run(self) -> None:
        backoff = Backoff()
        while True:
            try:
                if self._conn is None:
                    self._conn = await self._listen()
                    backoff.reset()
                    log.info("listener reconnected")
                    self.on_reconnect()
                async for n in self._conn.notifies():
                    try:
                        self.on_notify(n.channel, n.payload)
                    except Exception:  # a bug in a callback must not stop the listener
                        log.exception("notification handler failed")
                raise_if_cancelled()  # the wait for notifications swallowed close()'s cancel
            except CONNECTION_ERRORS as exc:
                raise_if_cancelled()  # psycopg turned the cancel into this: stop, not reconnect
                await self._drop()
                delay = backoff.next()
                log.warning("listener: connection lost (%s); reconnecting in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        await close_quietly(conn)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()


class Waiters:
    """Events of callers waiting for jobs to finish, woken by the finished-job channel."""

    def __init__(self) -> None:
        self._by_job: dict[tuple[str, str], set[asyncio.Event]] = {}

    def add(self, queue: str, job_id: str) -> asyncio.Event:
        ev = asyncio.Event()
        self._by_job.setdefault((queue, job_id), set()).add(ev)
        return ev

    def remove(self, queue: str, job_id: str, ev: asyncio.Event) -> None:
        evs = self._by_job.get((queue, job_id))
        if evs is not None:
            evs.discard(ev)
            if not evs:
                del self._by_job[(queue, job_id)]

    def notify(self, _channel: str, payload: str) -> None:
        queue, _, ids = payload.partition("\n")
        if ids == "*":
            for (q, _id), evs in self._by_job.items():
                if q == queue:
                    for ev in evs:
                        ev.set()
            return
        for job_id in ids.split(","):
            for ev in self._by_job.get((queue, job_id), ()):
                ev.set()

    def wake_all(self) -> None:
        for evs in self._by_job.values():
            for ev in evs:
                ev.set()


class WaitHub:
    """The waiters of every client on one event loop for one server and schema, and their
    one listening connection (started on the first wait)."""

    def __init__(self, key: tuple[int, str, str], loop: asyncio.AbstractEventLoop) -> None:
        self.key, self.loop = key, loop  # the loop is held so its id is not reused meanwhile
        self.waiters = Waiters()
        self.listener: Listener | None = None
        self.lock = asyncio.Lock()
        self.refs = 0

    async def start(self, make: Callable[[Waiters], Listener]) -> None:
        if self.listener is not None:
            return
        async with self.lock:
            if self.listener is None:
                listener = make(self.waiters)
                await listener.start()
                self.listener = listener


_HUBS: dict[tuple[int, str, str], WaitHub] = {}


def acquire_hub(conninfo: str, schema: str) -> WaitHub:
    loop = asyncio.get_running_loop()
    key = (id(loop), conninfo, schema)
    hub = _HUBS.get(key)
    if hub is None or hub.loop is not loop:
        hub = _HUBS[key] = WaitHub(key, loop)
    hub.refs += 1
    return hub


async def release_hub(hub: WaitHub) -> None:
    hub.refs -= 1
    if hub.refs > 0:
        return
    if _HUBS.get(hub.key) is hub:
        del _HUBS[hub.key]
    listener, hub.listener = hub.listener, None
    if listener is not None:
        await listener.close()

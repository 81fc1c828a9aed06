"""The embedded SQLite backend: one file in WAL mode, shared by producers and worker processes.

Adds and reads run inline on the event loop: they are single short statements on the client's
own connection (a thread hop would cost more than the statement, measured). While another
process holds the write lock they wait on the loop (``asyncio.sleep`` between tries), never
inside SQLite, so the loop keeps running. A consumer (:mod:`.consumer`) has a connection of its
own. Nothing needs setting up: the file and its schema are created on first use.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import ClassVar, Self

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import JSON, AddOptions, Handler, JobInfo, Provisioned
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.backends.sqlite import sql, transport
from qgen.runtime.backends.sqlite.consumer import SqliteLane, SqliteNative
from qgen.runtime.backends.sqlite.jobs import NewJob, dumps, job_info, new_id
from qgen.runtime.backends.sqlite.ops import SqliteOps
from qgen.runtime.backends.sqlite.url import SqliteUrl, parse_url
from qgen.runtime.errors import JobNotFound, JobTimeout
from qgen.runtime.names import validate_job_id, validate_queue_name
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs, QueueSettings, SettingsBook, for_backend


class SqliteBackend(SqliteOps):
    name: ClassVar[str] = "sqlite"

    def __init__(self, url: SqliteUrl, queues: QueueConfigs) -> None:
        self.url = url
        self.settings = SettingsBook(queues, self.name)
        self._conn: sqlite3.Connection | None = transport.open_db(
            url.path, url.synchronous, url.busy_timeout_ms
        )
        self._timeout = url.busy_timeout
        self._names: set[str] = set()  # queue names already validated
        self._wakers: list[Callable[[], None]] = []  # consumers in this process, woken by adds
        # and told at once of a cancel of a job they may run (others learn it at renewal)
        self._cancellers: list[Callable[[str, str], None]] = []

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        for name in queues:
            validate_queue_name(name)
        return cls(parse_url(url), queues)

    @classmethod
    async def provision(
        cls, url: str, queues: QueueConfigs, *, schedules: Sequence[Schedule] = ()
    ) -> Provisioned:
        parse_url(url)
        return Provisioned("nothing to set up: the SQLite file and its tables are made on use")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the SQLite backend is closed")
        return self._conn

    @property
    def busy_timeout(self) -> float:
        return self._timeout

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def max_attempts(self, queue: str) -> int:
        return self.settings[queue].attempts

    def _new_job(self, queue: str, data: JSON, options: AddOptions, now: float) -> NewJob:
        job_id = new_id() if options.job_id is None else validate_job_id(options.job_id)
        attempts = self.max_attempts(queue) if options.attempts is None else options.attempts
        return NewJob(
            id=job_id,
            data=dumps(data),
            priority=int(options.priority),
            max_attempts=int(attempts),
            backoff=None if options.backoff is None else dumps(dict(options.backoff)),
            start_after=now + max(0.0, float(options.delay)),
            meta=jobmeta.encode(options.meta),
        )

    def _wake(self) -> None:
        for wake in self._wakers:
            wake()

    def _check_queue(self, queue: str) -> None:
        if queue not in self._names:
            self._names.add(validate_queue_name(queue))

    def unreachable(self, exc: BaseException) -> bool:
        return False  # no server: a file that cannot be opened fails at connect

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        self._check_queue(queue)
        now = time.time()
        row = self._new_job(queue, data, options, now).row(queue, now)
        conn = self.conn
        try:  # the common case, without the retry wrapper
            sql.insert_one(conn, row)
        except sqlite3.OperationalError as exc:
            if not transport.is_busy(exc):
                raise
            await transport.read(lambda: sql.insert_one(conn, row), self._timeout)
        if self._wakers:
            self._wake()
        return str(row[1])

    async def enqueue_many(self, queue: str, items: Sequence[tuple[JSON, AddOptions]]) -> list[str]:
        validate_queue_name(queue)
        now = time.time()
        jobs = [self._new_job(queue, data, options, now) for data, options in items]
        if jobs:
            rows = [job.row(queue, now) for job in jobs]
            await transport.write(self.conn, lambda c: sql.insert_many(c, rows), self._timeout)
            self._wake()
        return [j.id for j in jobs]

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        conn = self.conn
        row = await transport.read(lambda: sql.get_row(conn, queue, job_id), self._timeout)
        return None if row is None else job_info(row)

    async def oldest_waiting(self, queue: str) -> float | None:
        conn = self.conn
        return await transport.read(lambda: sql.oldest_waiting(conn, queue), self._timeout)

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        """Poll the row (no notifications cross processes): every 5 ms at first, slowing to
        100 ms, so short jobs return fast and long waits cost little."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = 0.005
        while True:
            info = await self.get(queue, job_id)
            if info is None:
                raise JobNotFound(queue, job_id)
            if info.status.finished:
                return info
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise JobTimeout(f"job {job_id!r} on {queue!r} not finished after {timeout} s")
                interval = min(interval, left)
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, 0.1)

    def consume(
        self, queues: Sequence[QueueSettings], handle: Handler
    ) -> ConsumerSkeleton[SqliteLane]:
        native = SqliteNative(self.url, self.max_attempts, self._wakers, self._cancellers)
        return ConsumerSkeleton(native, for_backend(queues, self.name), handle)

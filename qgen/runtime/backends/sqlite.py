"""The embedded SQLite backend: one file in WAL mode, shared by producers and worker processes.

URL: ``sqlite:///relative/jobs.db`` or ``sqlite:////absolute/jobs.db`` (SQLAlchemy's
convention), with ``?synchronous=full`` (the default) or ``?synchronous=normal``. At FULL every
commit is synced to disk before it returns, so an added job or a completed job survives a power
loss; NORMAL syncs only at WAL checkpoints, which is several times faster and still safe against a
crash of the process (never corrupts the file), but the last transactions before a power loss or
OS crash may be rolled back: a job added just before may vanish, a completed job may run again.
``busy_timeout`` (ms, default 10000) bounds how long a write waits for another process's lock.

Adds and reads run inline on the event loop: they are single short statements on the client's
own connection (a thread hop would cost more than the statement, measured). While another
process holds the write lock they wait on the loop (``asyncio.sleep`` between tries), never
inside SQLite, so the loop keeps running. The consumer (:mod:`.sqlite_consumer`) has a
connection of its own.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from qgen.runtime.backends import sqlite_db as db
from qgen.runtime.backends.base import (
    JSON,
    AddOptions,
    ErrorInfo,
    Handler,
    JobInfo,
    JobStatus,
    QueueSettings,
)
from qgen.runtime.errors import ConfigError, JobNotFound, JobTimeout
from qgen.runtime.names import validate_job_id, validate_queue_name
from qgen.runtime.urls import mask_url, strict_query

DEFAULT_ATTEMPTS = 3
_SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}


@dataclass(frozen=True, slots=True)
class SqliteUrl:
    path: Path
    synchronous: str  # "FULL" | "NORMAL"
    busy_timeout_ms: int


def parse_url(url: str) -> SqliteUrl:
    prefix = "sqlite:///"
    shown = mask_url(url)
    if not url.lower().startswith(prefix):
        raise ConfigError(
            f"bad SQLite URL {shown!r}: use sqlite:///relative/jobs.db or sqlite:////abs/jobs.db"
        )
    params = strict_query(url, ("synchronous", "busy_timeout"), "SQLite")
    rest = url[len(prefix) :].partition("?")[0]
    if not rest or rest.endswith("/") or rest == ":memory:":
        raise ConfigError(f"bad SQLite URL {shown!r}: it must name a file, e.g. sqlite:///jobs.db")
    url = shown  # the messages below show it
    sync = params.get("synchronous", "full").lower()
    if sync not in _SYNC_MODES:
        raise ConfigError(f"synchronous must be 'full' or 'normal' in {url!r}, not {sync!r}")
    try:
        busy = int(params.get("busy_timeout", "10000"))
    except ValueError:
        raise ConfigError(f"busy_timeout must be an integer (ms) in {url!r}") from None
    if busy < 0:
        raise ConfigError(f"busy_timeout must be >= 0 in {url!r}")
    return SqliteUrl(Path(rest), _SYNC_MODES[sync], busy)


def new_id() -> str:
    """A time-ordered id (µs clock, then 64 random bits), 30 hex digits: new rows land at the
    right end of the (queue, id) index instead of on a random page of it, so an add dirties
    fewer pages (less to write to the WAL and to checkpoint)."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(8).hex()}"


def _state(state: str, start_after: float, now: float) -> JobStatus:
    if state == "delayed" and start_after <= now:
        return JobStatus.WAITING  # due; the next round of a worker takes it
    return JobStatus(state)


class SqliteBackend:
    name: ClassVar[str] = "sqlite"

    def __init__(self, url: SqliteUrl, queues: Mapping[str, Mapping[str, Any]]) -> None:
        self.url = url
        self.queues = {k: dict(v) for k, v in queues.items()}
        self._conn: sqlite3.Connection | None = db.open_db(
            url.path, url.synchronous, url.busy_timeout_ms
        )
        self._timeout = url.busy_timeout_ms / 1000
        self._names: set[str] = set()  # queue names already validated
        self._wakers: list[Callable[[], None]] = []  # consumers in this process, woken by adds

    @classmethod
    async def connect(cls, url: str, queues: Mapping[str, Mapping[str, Any]]) -> Self:
        for name in queues:
            validate_queue_name(name)
        return cls(parse_url(url), queues)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the SQLite backend is closed")
        return self._conn

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def max_attempts(self, queue: str) -> int:
        return int(self.queues.get(queue, {}).get("attempts", DEFAULT_ATTEMPTS))

    def _new_job(self, queue: str, data: JSON, options: AddOptions, now: float) -> db.NewJob:
        job_id = new_id() if options.job_id is None else validate_job_id(options.job_id)
        attempts = self.max_attempts(queue) if options.attempts is None else options.attempts
        return db.NewJob(
            id=job_id,
            data=db.dumps(data),
            priority=int(options.priority),
            max_attempts=int(attempts),
            backoff=None if options.backoff is None else db.dumps(dict(options.backoff)),
            start_after=now + max(0.0, float(options.delay)),
        )

    def _wake(self) -> None:
        for wake in self._wakers:
            wake()

    def _check_queue(self, queue: str) -> None:
        if queue not in self._names:
            self._names.add(validate_queue_name(queue))

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        self._check_queue(queue)
        now = time.time()
        job = self._new_job(queue, data, options, now)
        conn = self.conn
        try:  # the common case, without the retry wrapper
            db.insert_one(conn, queue, job, now)
        except sqlite3.OperationalError as exc:
            if not db.is_busy(exc):
                raise
            await db.read(conn, lambda: db.insert_one(conn, queue, job, now), self._timeout)
        if self._wakers:
            self._wake()
        return job.id

    async def enqueue_many(self, queue: str, items: Sequence[tuple[JSON, AddOptions]]) -> list[str]:
        validate_queue_name(queue)
        now = time.time()
        jobs = [self._new_job(queue, data, options, now) for data, options in items]
        if jobs:
            await db.write(self.conn, lambda c: db.insert_many(c, queue, jobs, now), self._timeout)
            self._wake()
        return [j.id for j in jobs]

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        conn = self.conn
        row = await db.read(conn, lambda: db.get_row(conn, queue, job_id), self._timeout)
        if row is None:
            return None
        (jid, q, state, data, progress, result, error, made, max_att, created, finished, start) = (
            row
        )
        return JobInfo(
            id=jid,
            queue=q,
            status=_state(state, start, time.time()),
            data=db.loads(data),
            progress=db.loads(progress),
            result=db.loads(result),
            error=None if error is None else ErrorInfo.from_json(db.loads(error)),
            attempts_made=made,
            max_attempts=max_att,
            created_at=created,
            finished_at=finished,
        )

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

    def consume(self, queues: Sequence[QueueSettings], handle: Handler) -> SqliteConsumer:
        return SqliteConsumer(self, queues, handle)


from qgen.runtime.backends.sqlite_consumer import SqliteConsumer  # noqa: E402

__all__ = ["SqliteBackend", "SqliteConsumer", "parse_url"]

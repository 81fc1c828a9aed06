"""The operator API of the SQLite backend (issue 14), mixed into :class:`.SqliteBackend`:
counts, listing with keyset cursors, cancel, retry, pause and resume, clean, redrive one
transaction per job, and the workers' heartbeats. Statements in :mod:`.ops_sql`; the semantics
of each method in ``base.Backend``. Nothing pushes across processes: workers learn a pause at
their next poll and a cancel at their next lease renewal; consumers in this process are woken
at once."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable
from typing import Any, TypeVar

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.backends.ops import (
    WORKER_LISTED_FOR,
    QueueCounts,
    RedriveReport,
    Validate,
    WorkerInfo,
    decode_cursor,
    encode_cursor,
    redrive_pages,
)
from qgen.runtime.backends.sqlite import ops_sql, transport
from qgen.runtime.backends.sqlite.jobs import job_info
from qgen.runtime.backends.unsupported import UnsupportedOps
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import SettingsBook

T = TypeVar("T")
LISTING = {
    JobStatus.WAITING: ops_sql.LIST_WAITING,
    JobStatus.DELAYED: ops_sql.LIST_DELAYED,
    JobStatus.ACTIVE: ops_sql.LIST_ACTIVE,
}
PAGE = 500  # dead letters read per statement (redrive)
CLEAN_STEP = 5_000  # rows one clean transaction deletes at most


class SqliteOps(UnsupportedOps):
    settings: SettingsBook

    @property
    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError  # the backend's

    @property
    def busy_timeout(self) -> float:
        raise NotImplementedError  # the backend's

    def _wake(self) -> None: ...  # the backend's: consumers in this process look now

    _cancellers: list[Callable[[str, str], None]]  # the backend's: consumers in this process

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self.conn
        return await transport.read(lambda: fn(conn), self.busy_timeout)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await transport.write(self.conn, fn, self.busy_timeout)

    async def _rows(self, stmt: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._read(lambda c: c.execute(stmt, params).fetchall())

    async def _change(self, stmt: str, params: tuple[Any, ...]) -> int:
        """One statement in its own transaction; rows changed."""
        return await self._read(lambda c: c.execute(stmt, params).rowcount)

    # -- reading -----------------------------------------------------------------------------

    async def counts(self, queue: str) -> QueueCounts:
        def read(c: sqlite3.Connection) -> tuple[Any, list[Any]]:
            c.execute("BEGIN")  # one snapshot for both statements
            try:
                row = c.execute(ops_sql.COUNTS, (queue, time.time())).fetchone()
                return row, c.execute(ops_sql.COUNT_FINISHED, (queue,)).fetchall()
            finally:
                c.execute("COMMIT")

        (waiting, due, delayed, active, paused), finished = await self._read(read)
        done = dict(finished)
        return QueueCounts(
            waiting=waiting + due,
            delayed=delayed,
            active=active,
            completed=done.get("completed", 0),
            failed=done.get("failed", 0),
            discarded=done.get("discarded", 0),
            cancelled=done.get("cancelled", 0),
            paused=bool(paused),
        )

    async def list_jobs(
        self, queue: str, status: JobStatus, limit: int, cursor: str | None
    ) -> tuple[list[JobInfo], str | None]:
        after, after_id = math.inf, ""
        if cursor is not None:
            after, after_id = decode_cursor(cursor)
        second: str | float
        if status.finished:
            stmt, second = ops_sql.LIST_FINISHED, status.value
        elif status in LISTING:
            stmt, second = LISTING[status], time.time()
        else:
            raise ConfigError(f"jobs cannot be listed by status {status.value!r}")
        rows = await self._rows(stmt, (queue, second, after, after_id, limit + 1))
        infos = [job_info(row, strict=True) for row in rows[:limit]]
        if len(rows) <= limit:
            return infos, None
        last = rows[limit - 1]
        return infos, encode_cursor(last[-1], last[0])

    # -- acting on jobs ----------------------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> bool:
        def cancel(c: sqlite3.Connection) -> str | None:
            if c.execute(ops_sql.CANCEL_WAITING, (queue, job_id, time.time())).rowcount:
                return "waiting"
            if c.execute(ops_sql.CANCEL_ACTIVE, (queue, job_id)).rowcount:
                return "active"
            return None

        was = await self._write(cancel)
        if was == "active":  # a worker of this process hears it now; others when they renew
            for tell in list(self._cancellers):
                tell(queue, job_id)
        return was is not None

    async def retry(self, queue: str, job_id: str) -> bool:
        moved = await self._change(ops_sql.RETRY_JOB, (time.time(), queue, job_id))
        if moved:
            self._wake()
        return bool(moved)

    async def retry_all(self, queue: str, limit: int | None) -> int:
        params = (time.time(), queue, -1 if limit is None else limit)
        moved = await self._change(ops_sql.RETRY_FAILED, params)
        if moved:
            self._wake()
        return moved

    # -- acting on queues --------------------------------------------------------------------

    async def pause(self, queue: str) -> None:
        await self._change(ops_sql.SET_PAUSED, (queue, 1))

    async def resume(self, queue: str) -> None:
        await self._change(ops_sql.SET_PAUSED, (queue, 0))
        self._wake()

    async def is_paused(self, queue: str) -> bool:
        return bool((await self._rows(ops_sql.IS_PAUSED, (queue,)))[0][0])

    async def clean(
        self, queue: str, status: JobStatus, older_than: float | None, keep: int | None
    ) -> int:
        if not status.finished:
            raise ConfigError(f"clean takes a finished status, not {status.value!r}")
        state = status.value
        cutoff = None if older_than is None else time.time() - older_than
        params = (queue, state, cutoff, keep or 0, CLEAN_STEP)
        total = 0
        while True:  # in steps, so other processes get the write lock in between
            gone = await self._write(lambda c: c.execute(ops_sql.CLEAN, params).rowcount)
            total += gone
            if gone < CLEAN_STEP:
                return total

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        async def page(after: tuple[Any, int]) -> list[tuple[Any, ...]]:
            params = (dead_letter_queue, target_queue, *after, PAGE)
            return await self._rows(ops_sql.DEAD_LETTERS, params)

        async def move(job_id: str) -> bool:
            return await self._move(dead_letter_queue, target_queue, job_id)

        report = await redrive_pages(
            page,
            move,
            start=(-math.inf, 0),
            page_size=PAGE,
            limit=limit,
            validate=validate,
            dry_run=dry_run,
        )
        if report.moved and not dry_run:
            self._wake()
        return report

    async def _move(self, dead_letter_queue: str, target: str, job_id: str) -> bool:
        """One dead letter back to ``target``, in one transaction."""
        attempts = self.settings[target].attempts

        def move(c: sqlite3.Connection) -> bool:
            copy = c.execute(ops_sql.COPY, (dead_letter_queue, job_id)).fetchone()
            if copy is None:
                return False
            data, priority, meta = copy
            params = (time.time(), target, job_id, priority, data, attempts, meta)
            if c.execute(ops_sql.REDRIVE, params).rowcount != 1:
                return False
            c.execute(ops_sql.DELETE_JOB, (dead_letter_queue, job_id))
            return True

        return await self._write(move)

    # -- workers -----------------------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        now = time.time()
        if stopping:
            await self._change(ops_sql.FORGET, (worker.key, now - WORKER_LISTED_FOR))
            return
        queues = json.dumps(list(worker.queues))
        params = (worker.key, worker.name, worker.host, worker.pid, queues, worker.started_at)

        def beat(c: sqlite3.Connection) -> None:
            c.execute(ops_sql.BEAT, (*params, now))
            c.execute(ops_sql.FORGET, ("", now - WORKER_LISTED_FOR))

        await self._write(beat)

    async def workers(self, queue: str | None) -> list[WorkerInfo]:
        rows = await self._rows(ops_sql.WORKERS, (time.time() - WORKER_LISTED_FOR,))
        found = []
        for name, host, pid, queues, started, seen in rows:
            names = tuple(_names(queues))
            if queue is None or queue in names:
                found.append(WorkerInfo(name, host, pid, names, started, seen, "sqlite"))
        return found


def _names(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []

"""The operator API of the PostgreSQL backend (issue 14), mixed into :class:`.PostgresBackend`:
counts, listing with keyset cursors, cancel (NOTIFY-woken for running jobs), retry, pause and
resume (NOTIFY-woken), clean, redrive one transaction per job, and the workers' heartbeats.
The statements are in :mod:`.ops_sql`; the semantics of each method in ``base.Backend``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

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
from qgen.runtime.backends.postgres.jobs import job_info
from qgen.runtime.backends.postgres.sql import CANCEL, PAUSED, RESUMED, Statements
from qgen.runtime.backends.unsupported import UnsupportedOps
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import SettingsBook

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
END_OF_TIME = dt.datetime.max.replace(tzinfo=dt.UTC)
REDRIVE_PAGE = 500


def _one(rows: list[tuple[Any, ...]]) -> Any:
    return rows[0][0] if rows else None


class PgOps(UnsupportedOps):
    st: Statements
    settings: SettingsBook

    async def _with_conn(self, op: Callable[[Conn], Awaitable[T]]) -> T:
        raise NotImplementedError  # the backend's

    async def _rows(self, stmt: Any, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async def op(conn: Conn) -> list[tuple[Any, ...]]:
            cur = await conn.execute(stmt, params)
            return await cur.fetchall() if cur.description else []

        return await self._with_conn(op)

    async def _notify(self, payload: str) -> None:
        await self._rows(self.st.notify, (self.st.new_channel, payload))

    # -- reading -----------------------------------------------------------------------------

    async def counts(self, queue: str) -> QueueCounts:
        rows = await self._rows(self.st.counts, (queue,) * 5)
        ready, delayed, active, finished, paused = rows[0]
        done = json.loads(finished)
        return QueueCounts(
            waiting=ready - delayed,
            delayed=delayed,
            active=active,
            completed=done.get("completed", 0),
            failed=done.get("failed", 0),
            discarded=done.get("discarded", 0),
            cancelled=done.get("cancelled", 0),
            paused=bool(paused),
        )

    async def oldest_waiting(self, queue: str) -> float | None:
        value = _one(await self._rows(self.st.oldest_waiting, (queue,)))
        return None if value is None else float(value)

    async def list_jobs(
        self, queue: str, status: JobStatus, limit: int, cursor: str | None
    ) -> tuple[list[JobInfo], str | None]:
        after, after_id = END_OF_TIME, ""
        if cursor is not None:
            micros, after_id = decode_cursor(cursor)
            try:
                after = EPOCH + dt.timedelta(microseconds=int(micros))
            except OverflowError:
                raise ConfigError("invalid cursor: pass the next_cursor of a page") from None
        stmt, state = self._listing(status)
        params = (queue, *state, after, after_id, limit + 1)
        rows = await self._rows(stmt, params)
        infos = [job_info(queue, row, strict=True) for row in rows[:limit]]
        if len(rows) <= limit:
            return infos, None
        last = rows[limit - 1]
        return infos, encode_cursor(last[-1], last[0])

    def _listing(self, status: JobStatus) -> tuple[Any, tuple[str, ...]]:
        st = self.st
        if status is JobStatus.WAITING:
            return st.list_waiting, ()
        if status is JobStatus.DELAYED:
            return st.list_delayed, ()
        if status is JobStatus.ACTIVE:
            return st.list_active, ()
        if status.finished:
            return st.list_finished, (status.value,)
        raise ConfigError(f"jobs cannot be listed by status {status.value!r}")

    # -- acting on jobs ----------------------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> bool:
        running = _one(await self._rows(self.st.cancel_job, (queue, job_id, queue, job_id)))
        if running:  # the worker holding it hears it now, else at its next lease renewal
            await self._notify(f"{CANCEL}{queue}\n{job_id}")
        return running is not None

    async def retry(self, queue: str, job_id: str) -> bool:
        moved = await self._rows(self.st.retry_job, (queue, job_id))
        if moved:
            await self._notify(queue)
        return bool(moved)

    async def retry_all(self, queue: str, limit: int | None) -> int:
        async def op(conn: Conn) -> int:
            cur = await conn.execute(self.st.retry_failed, (queue, limit))
            return cur.rowcount

        moved = await self._with_conn(op)
        if moved:
            await self._notify(queue)
        return moved

    # -- acting on queues --------------------------------------------------------------------

    async def pause(self, queue: str) -> None:
        await self._rows(self.st.set_paused, (queue, True))
        await self._notify(PAUSED + queue)

    async def resume(self, queue: str) -> None:
        await self._rows(self.st.set_paused, (queue, False))
        await self._notify(RESUMED + queue)

    async def is_paused(self, queue: str) -> bool:
        return bool(_one(await self._rows(self.st.is_paused, (queue,))))

    async def clean(
        self, queue: str, status: JobStatus, older_than: float | None, keep: int | None
    ) -> int:
        if not status.finished:
            raise ConfigError(f"clean takes a finished status, not {status.value!r}")
        state = status.value

        async def op(conn: Conn) -> int:
            params = (queue, state, older_than, older_than, keep or 0)
            cur = await conn.execute(self.st.clean, params)
            return cur.rowcount

        return await self._with_conn(op)

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        async def page(after: tuple[Any, int]) -> list[tuple[Any, ...]]:
            params = (dead_letter_queue, target_queue, *after, REDRIVE_PAGE)
            return await self._rows(self.st.dead_letters, params)

        async def move(job_id: str) -> bool:
            return await self._move(dead_letter_queue, target_queue, job_id)

        report = await redrive_pages(
            page,
            move,
            start=(EPOCH, 0),
            page_size=REDRIVE_PAGE,
            limit=limit,
            validate=validate,
            dry_run=dry_run,
        )
        if report.moved and not dry_run:
            await self._notify(target_queue)
        return report

    async def _move(self, dead_letter_queue: str, target: str, job_id: str) -> bool:
        settings = self.settings[target]
        dlq, attempts, dead_letter = dead_letter_queue, settings.attempts, settings.dead_letter
        params = (dlq, job_id, target, job_id, attempts - 1, dead_letter, dlq, job_id)
        return bool(_one(await self._rows(self.st.redrive, params)))

    # -- workers -----------------------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        if stopping:
            await self._rows(self.st.forget, (worker.key, WORKER_LISTED_FOR))
            return
        params = (worker.key, worker.name, worker.host, worker.pid, list(worker.queues))
        await self._rows(self.st.beat, (*params, worker.started_at))
        await self._rows(self.st.forget, ("", WORKER_LISTED_FOR))

    async def workers(self, queue: str | None) -> list[WorkerInfo]:
        rows = await self._rows(self.st.workers, (WORKER_LISTED_FOR, queue, queue))
        return [
            WorkerInfo(name, host, pid, tuple(queues), started, seen, "postgres")
            for name, host, pid, queues, started, seen in rows
        ]

"""The side work of the SQLite consumer: lease renewals (heartbeats, which also answer the jobs
an operator asked to cancel) and the recovery of expired leases, for every queue of the worker
in one read at the shortest queue's period (not one read per queue)."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping

from qgen.runtime.backends.base import ErrorInfo
from qgen.runtime.backends.lanes import Lane
from qgen.runtime.backends.sqlite import sql, transport
from qgen.runtime.backends.sqlite.jobs import SqliteJob, dumps
from qgen.runtime.backends.sqlite.url import SqliteUrl

log = logging.getLogger("qgen.sqlite")


class SideWork:
    """Mixed into :class:`.consumer.SqliteNative`, whose state it reads."""

    url: SqliteUrl
    attempts_of: Callable[[str], int]
    by_name: Mapping[str, Lane[SqliteJob]]
    names: str
    _next_recover: float

    @property
    def conn(self) -> sqlite3.Connection:
        raise NotImplementedError  # the native's

    def renew_every(self, lane: Lane[SqliteJob]) -> float:
        return max(0.05, lane.settings.visibility_timeout / 3)

    recover_every = renew_every

    async def renew(self, lane: Lane[SqliteJob], jobs: list[SqliteJob]) -> list[str]:
        """Extend the leases; returns the ids an operator asked to cancel."""
        until = time.time() + lane.settings.visibility_timeout
        rows = [(job.seq, job.lease) for job in jobs]
        return await transport.write(
            self.conn, lambda c: sql.renew(c, until, rows), self.url.busy_timeout
        )

    async def recover(self, lane: Lane[SqliteJob]) -> None:
        """Take back expired leases (dead workers) and rows left active with no lease, of
        every queue of the worker in one read (the skeleton calls this per lane; the calls
        between two recoveries do nothing)."""
        mono = time.monotonic()
        if mono < self._next_recover:
            return
        lanes = list(self.by_name.values())
        self._next_recover = mono + min(self.recover_every(one) for one in lanes)
        conn, now = self.conn, time.time()
        timeout = self.url.busy_timeout
        stale = await transport.read(functools.partial(sql.expired, conn, self.names, now), timeout)
        if stale:
            await transport.write(conn, functools.partial(self._recover, stale, now), timeout)

    def _recover(self, stale: list[sql.ExpiredRow], now: float, c: sqlite3.Connection) -> None:
        for seq, queue, job_id, stalled, lease, cancelled in stale:
            settings = self.by_name[queue].settings
            limit = settings.max_stalled_count
            count = stalled + 1
            error = None
            if count > limit and not cancelled:
                msg = f"job stalled {count} time(s), more than max_stalled_count={limit}"
                error = dumps(ErrorInfo("JobStalled", msg).to_json())
                if settings.dead_letter:
                    attempts = self.attempts_of(settings.dead_letter)
                    sql.dead_letter_copy(c, settings.dead_letter, seq, lease, attempts, now)
            if sql.recover(c, seq, count, error, now):
                if cancelled:
                    outcome = "cancelled (an operator asked)"
                else:
                    outcome = "failed" if error else "given back to the queue"
                log.warning(
                    "job %s on %s: lease expired or missing (worker gone?); %s",
                    job_id,
                    queue,
                    outcome,
                    extra={"queue": queue, "job_id": job_id},
                )

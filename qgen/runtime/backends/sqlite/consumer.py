"""The SQLite half of the consumer: rounds on the queue file, leases, heartbeats, recovery.

One loop serves every queue of the worker. One *round* is one ``BEGIN IMMEDIATE`` transaction
that records every outcome that arrived since the last round and leases the next jobs for the
free slots (``batch_size`` running plus ``prefetch`` leased ahead), so a busy worker pays one
commit (one fsync at FULL) per batch, not per job. Rounds run inline on the event loop on the
consumer's own connection: a thread hop per round measured slower (GIL hand-offs) and halved
the jobs per commit; a locked file is waited for with ``asyncio.sleep`` between tries, so the
loop never blocks inside SQLite. Guarantees:

- never lost: a job is leased (``active`` with ``lease_until``) in the same transaction that
  records the outcomes before it; a worker that dies leaves leases that expire and are recovered
  by any consumer of that queue (the stall is counted; past ``max_stalled_count`` the job fails);
- never run by two workers at once: leases are renewed by a heartbeat every third of
  ``visibility_timeout``, and every outcome is applied only ``WHERE lease = <this lease>``, so a
  worker whose lease was taken over cannot overwrite the new holder's work;
- completed stays completed: an outcome counts once its transaction committed (at
  ``synchronous=FULL``, once it is on disk).

Trade-offs: jobs leased ahead show as ``active`` until they start; on stop they go back to the
queue at once, but if the worker is killed they wait for their lease to expire like the running
ones, and that recovery counts as a stall for them too (the file cannot tell a started job from a
prefetched one without a write per job start). Set ``prefetch`` low where that matters. An idle
worker notices jobs added by other processes within ``poll_interval`` (one cheap indexed read
per poll), and at once for adds made through the same backend object.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import Delivery, ErrorInfo, Failed
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.backends.sqlite import outcomes, sql, transport
from qgen.runtime.backends.sqlite.jobs import SqliteJob, dumps, loads
from qgen.runtime.backends.sqlite.url import SqliteUrl
from qgen.runtime.interaction import Progress
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.sqlite")


class SqliteLane(Lane[SqliteJob]):
    def __init__(self, settings: QueueSettings, wake: asyncio.Event) -> None:
        super().__init__(settings, wake)
        # Jobs this process may hold leased at once: ``batch_size`` running plus ``prefetch``
        # leased ahead, which start as soon as a slot frees without waiting for a round.
        self.capacity = max(1, settings.batch_size) + max(1, settings.prefetch)
        self.poll = settings.poll_interval / 1000.0
        self.idle_until = 0.0  # monotonic: the queue ran dry; poll it again then
        self.maybe_empty = True  # check with a cheap read before leasing


class SqliteNative:
    settles = False
    gather_yields = 4  # a round blocks the loop while it commits: let running jobs finish first

    def __init__(
        self,
        url: SqliteUrl,
        attempts_of: Callable[[str], int],
        wakers: list[Callable[[], None]],
    ) -> None:
        self.url = url
        self.attempts_of = attempts_of  # max attempts of dead-letter copies, per target queue
        self.wakers = wakers  # adds through the backend in this process call these
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.token_base = uuid.uuid4().hex[:12]
        self.rounds = 0
        self.kicked = False
        self.lanes: list[SqliteLane] = []
        self.control = Control()
        self._conn: sqlite3.Connection | None = None

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> SqliteLane:
        lane = SqliteLane(settings, wake)
        self.lanes.append(lane)
        if len(self.lanes) == 1 and settings.worker_name:
            self.worker = settings.worker_name
        return lane

    def groups(self, lanes: Sequence[SqliteLane]) -> list[list[SqliteLane]]:
        return [list(lanes)]  # one transaction records and leases for every queue

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "consumer not running"
        return self._conn

    def kick(self) -> None:
        """An add in this process: look for work now, not at the next poll."""
        self.kicked = True
        if self.lanes:
            self.lanes[0].wake.set()

    async def open(self, control: Control) -> None:
        self.control = control
        self.wakers.append(self.kick)
        url = self.url
        self._conn = transport.open_db(url.path, url.synchronous, url.busy_timeout_ms)
        if any(lane.settings.keep_completed is not None for lane in self.lanes) or any(
            lane.settings.keep_failed is not None for lane in self.lanes
        ):
            await transport.write(
                self._conn, lambda c: c.execute(sql.FINISHED_INDEX), url.busy_timeout
            )

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.wakers.remove(self.kick)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and transport.is_busy(exc)

    # -- rounds ------------------------------------------------------------------------------

    def _wanted(self, group: list[SqliteLane], done: list[list[Done[SqliteJob]]]) -> list[int]:
        if self.control.stopping:
            return [0] * len(group)
        kicked, self.kicked = self.kicked, False
        now = time.monotonic()
        want = []
        for lane, batch in zip(group, done, strict=True):
            free = lane.capacity - lane.held + len(batch)  # the batch's slots free up now
            want.append(free if free > 0 and (kicked or lane.idle_until <= now) else 0)
        return want

    async def exchange(self, group: list[SqliteLane], done: list[list[Done[SqliteJob]]]) -> bool:
        want = self._wanted(group, done)
        if not any(done) and not any(want):
            return False
        got = await self._round(group, done, want)
        now = time.monotonic()
        for lane, n, jobs in zip(group, want, got, strict=True):
            if not n:
                continue
            if len(jobs) < n:  # the queue ran dry: poll it at its interval
                lane.idle_until = now + lane.poll
                lane.maybe_empty = True
            else:
                lane.idle_until = 0.0
                lane.maybe_empty = False
            if jobs:
                lane.offer(jobs)
        return any(done) or any(got)

    async def _round(
        self, group: list[SqliteLane], done: list[list[Done[SqliteJob]]], want: list[int]
    ) -> list[list[SqliteJob]]:
        conn = self.conn
        now = time.time()
        ready = [
            bool(n) and (not lane.maybe_empty or sql.has_ready(conn, lane.name, now))
            for lane, n in zip(group, want, strict=True)
        ]
        if not any(done) and not any(ready):
            return [[] for _ in group]
        self.rounds += 1
        token = f"{self.token_base}-{self.rounds}"
        plan = outcomes.Plan(now=now)
        for lane, batch in zip(group, done, strict=True):
            if batch:
                outcomes.plan(lane.settings, batch, self.attempts_of, now, plan)

        def body(c: sqlite3.Connection) -> list[list[sql.LeasedRow]]:
            outcomes.apply(c, plan)
            got: list[list[sql.LeasedRow]] = []
            for lane, n, take in zip(group, want, ready, strict=True):
                if not take:
                    got.append([])
                    continue
                sql.promote(c, lane.name, now)
                until = now + lane.settings.visibility_timeout
                got.append(sql.lease(c, lane.name, n, token, self.worker, now, until))
            return got

        rows = await transport.write(conn, body, self.url.busy_timeout)
        return [self._jobs(lane, got, token) for lane, got in zip(group, rows, strict=True)]

    def _jobs(self, lane: SqliteLane, rows: list[sql.LeasedRow], token: str) -> list[SqliteJob]:
        jobs = []
        queue = lane.name
        for seq, job_id, priority, data, made, max_attempts, backoff, meta in rows:
            report = functools.partial(self._progress, seq, token)
            try:
                delivery = Delivery(
                    queue,
                    job_id,
                    loads(data),
                    made + 1,
                    max_attempts,
                    loads(backoff),
                    report,
                    meta=None if meta is None else jobmeta.decode(meta),
                )
            except ValueError as exc:  # a row written by something else: fail it alone
                delivery = Delivery(queue, job_id, None, made + 1, max_attempts, None, report)
                self._unreadable(lane, SqliteJob(delivery, seq, priority, token), exc)
                continue
            jobs.append(SqliteJob(delivery, seq, priority, token))
        return jobs

    def _unreadable(self, lane: SqliteLane, job: SqliteJob, exc: ValueError) -> None:
        error = ErrorInfo("InvalidJobData", f"the job's stored data or backoff is not JSON: {exc}")
        lane.held += 1
        lane.finished.append((job, Failed(error, lane.settings.dead_letter)))
        lane.wake.set()

    async def idle(self, group: list[SqliteLane], wake: asyncio.Event) -> None:
        now = time.monotonic()
        waits = [
            lane.idle_until - now
            for lane in group
            if lane.held < lane.capacity and not self.control.stopping
        ]
        timeout = max(0.0, min(waits)) if waits else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _progress(self, seq: int, lease: str, value: Progress) -> None:
        text = dumps(value)
        await transport.write(self.conn, lambda c: sql.set_progress(c, text, seq, lease), 30)

    # -- heartbeats --------------------------------------------------------------------------

    def renew_every(self, lane: SqliteLane) -> float:
        return max(0.05, lane.settings.visibility_timeout / 3)

    recover_every = renew_every

    async def renew(self, lane: SqliteLane, jobs: list[SqliteJob]) -> None:
        until = time.time() + lane.settings.visibility_timeout
        rows = [(job.seq, job.lease) for job in jobs]
        await transport.write(self.conn, lambda c: sql.renew(c, until, rows), self.url.busy_timeout)

    async def recover(self, lane: SqliteLane) -> None:
        """Take back expired leases of this queue (dead workers)."""
        conn, now = self.conn, time.time()
        timeout = self.url.busy_timeout
        stale = await transport.read(functools.partial(sql.expired, conn, lane.name, now), timeout)
        if stale:
            recover = functools.partial(self._recover, lane.settings, stale, now)
            await transport.write(conn, recover, timeout)

    def _recover(
        self,
        settings: QueueSettings,
        stale: list[tuple[int, str, int, str | None]],
        now: float,
        c: sqlite3.Connection,
    ) -> None:
        limit = settings.max_stalled_count
        for seq, job_id, stalled, lease in stale:
            count = stalled + 1
            error = None
            if count > limit:
                msg = f"job stalled {count} time(s), more than max_stalled_count={limit}"
                error = dumps(ErrorInfo("JobStalled", msg).to_json())
                if settings.dead_letter:
                    attempts = self.attempts_of(settings.dead_letter)
                    sql.dead_letter_copy(c, settings.dead_letter, seq, lease, attempts, now)
            if sql.recover(c, seq, count, error, now):
                log.warning(
                    "job %s on %s: lease expired (worker gone?); %s",
                    job_id,
                    settings.name,
                    "failed" if error else "given back to the queue",
                    extra={"queue": settings.name, "job_id": job_id},
                )

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
worker notices jobs added by other processes within ``poll_interval``, and at once for adds
made through the same backend object.

One poll for all queues (issue 13): every ``poll_interval`` (the shortest of the worker's
queues; half of it while busy) the worker makes ONE indexed read that tells, for each of its
queues, whether anything is ready and whether the queue is paused. A queue that ran dry is
leased from again only once a poll saw work in it, so an idle queue costs nothing between
polls, and a queue with a deep backlog never delays a quiet one by more than one poll: every
round leases for every queue with work and free slots. The same poll is how a pause reaches
every worker process within one poll interval (issue 14); the lease itself is also guarded by
the paused flag.

Operator cancels of running jobs reach them through the same poll read (the jobs of this worker's
leases that carry a request, from a partial index that is empty but for requests not yet heard),
so within one ``poll_interval``, and again through the lease renewal (``renew`` returns the
ids); renewals and recovery are in :mod:`.side`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import Delivery, ErrorInfo, Failed
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.backends.sqlite import outcomes, sql, transport
from qgen.runtime.backends.sqlite.jobs import SqliteJob, dumps, loads
from qgen.runtime.backends.sqlite.side import SideWork
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
        self.maybe_empty = True  # ran dry: lease again once a poll saw work
        self.retainer = outcomes.Retainer(settings)


class SqliteNative(SideWork):
    settles = False
    gather_yields = 4  # a round blocks the loop while it commits: let running jobs finish first

    def __init__(
        self,
        url: SqliteUrl,
        attempts_of: Callable[[str], int],
        wakers: list[Callable[[], None]],
        cancellers: list[Callable[[str, str], None]] | None = None,
    ) -> None:
        self.url = url
        self.attempts_of = attempts_of  # max attempts of dead-letter copies, per target queue
        self.wakers = wakers  # adds through the backend in this process call these
        self.cancellers = [] if cancellers is None else cancellers  # and cancels these
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.token_base = uuid.uuid4().hex[:12]
        self.rounds = 0
        self.kicked = False
        self.lanes: list[SqliteLane] = []
        self.by_name: Mapping[str, SqliteLane] = {}
        self.names = "[]"  # the lanes' queue names as a JSON array, in lane order
        self.poll_every = 0.1  # s: the shortest poll_interval of the lanes
        self.last_poll = -float("inf")  # monotonic
        self._next_recover = 0.0
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

    def cancel_now(self, queue: str, job_id: str) -> None:
        """A cancel through the backend in this process: the lane holding the job hears it
        now instead of at its next lease renewal."""
        lane = self.by_name.get(queue)
        if lane is not None:
            lane.request_cancel([job_id])

    async def open(self, control: Control) -> None:
        self.control = control
        self.by_name = {lane.name: lane for lane in self.lanes}
        self.names = json.dumps([lane.name for lane in self.lanes])
        self.poll_every = max(0.001, min((lane.poll for lane in self.lanes), default=0.1))
        self.wakers.append(self.kick)
        self.cancellers.append(self.cancel_now)
        url = self.url
        self._conn = transport.open_db(url.path, url.synchronous, url.busy_timeout_ms)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self.wakers.remove(self.kick)
        with contextlib.suppress(ValueError):
            self.cancellers.remove(self.cancel_now)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and transport.is_busy(exc)

    # -- rounds ------------------------------------------------------------------------------

    async def _poll(self) -> None:
        """The one read of a poll: what is ready and what is paused, for every queue, and which
        of this worker's running jobs an operator asked to cancel."""
        conn, names, now, base = self.conn, self.names, time.time(), self.token_base
        read = lambda: sql.poll(conn, names, now, base)  # noqa: E731
        rows = await transport.read(read, self.url.busy_timeout)
        for lane, (ready, paused, cancel) in zip(self.lanes, rows, strict=True):
            if cancel is not None:
                lane.request_cancel(str(job_id) for job_id in json.loads(cancel))
            if bool(paused) != lane.paused:
                log.info("queue %s %s", lane.name, "paused" if paused else "resumed")
                lane.set_paused(bool(paused))
            if ready:
                lane.maybe_empty = False

    def _wanted(self, group: list[SqliteLane], done: list[list[Done[SqliteJob]]]) -> list[int]:
        if self.control.stopping:
            return [0] * len(group)
        want = []
        for lane, batch in zip(group, done, strict=True):
            free = lane.capacity - lane.held + len(batch)  # the batch's slots free up now
            ok = free > 0 and not lane.maybe_empty and not lane.paused
            want.append(free if ok else 0)
        return want

    async def exchange(self, group: list[SqliteLane], done: list[list[Done[SqliteJob]]]) -> bool:
        now = time.monotonic()
        # a busy worker (outcomes to record) polls its dry queues twice per interval: the
        # read is cheap beside its rounds, and a quiet queue's job starts sooner
        every = self.poll_every / 2 if any(done) else self.poll_every
        if not self.control.stopping and (self.kicked or now >= self.last_poll + every):
            self.kicked = False
            self.last_poll = now
            await self._poll()
        want = self._wanted(group, done)
        trims = [lane.retainer.due(now) for lane in group]
        if not any(done) and not any(want) and not any(trims):
            return False
        got, trimmed = await self._round(group, done, want, trims)
        behind = False
        for lane, n, jobs, did in zip(group, want, got, trimmed, strict=True):
            lane.retainer.trimmed(did, now)
            behind = behind or any(full for _, full in did)
            if n:
                lane.maybe_empty = len(jobs) < n
            if jobs:
                lane.offer(jobs)
        return any(done) or any(got) or behind

    async def _round(
        self,
        group: list[SqliteLane],
        done: list[list[Done[SqliteJob]]],
        want: list[int],
        trims: list[tuple[int, ...]],
    ) -> tuple[list[list[SqliteJob]], list[list[tuple[int, bool]]]]:
        now = time.time()
        self.rounds += 1
        token = f"{self.token_base}-{self.rounds}"
        plan = outcomes.Plan(now=now)
        for lane, batch in zip(group, done, strict=True):
            if batch:
                touched = outcomes.plan(lane.settings, batch, self.attempts_of, now, plan)
                lane.retainer.touch(touched)

        def body(c: sqlite3.Connection) -> tuple[list[list[Any]], list[list[tuple[int, bool]]]]:
            outcomes.apply(c, plan)
            got: list[list[sql.LeasedRow]] = []
            trimmed = []
            for lane, n, groups in zip(group, want, trims, strict=True):
                trimmed.append(lane.retainer.trim(c, groups) if groups else [])
                if not n:
                    got.append([])
                    continue
                sql.promote(c, lane.name, now)
                until = now + lane.settings.visibility_timeout
                got.append(sql.lease(c, lane.name, n, token, self.worker, now, until))
            return got, trimmed

        rows, trimmed = await transport.write(self.conn, body, self.url.busy_timeout)
        jobs = [self._jobs(lane, got, token) for lane, got in zip(group, rows, strict=True)]
        return jobs, trimmed

    def _jobs(self, lane: SqliteLane, rows: list[sql.LeasedRow], token: str) -> list[SqliteJob]:
        jobs = []
        queue = lane.name
        for seq, job_id, priority, data, made, max_attempts, backoff, meta in rows:
            report = functools.partial(self._progress, seq, token)
            try:
                options = loads(backoff)
                if options is not None and not isinstance(options, dict):
                    raise ValueError(f"the backoff is not a JSON object: {backoff!r:.80}")
                delivery = Delivery(
                    queue,
                    job_id,
                    loads(data),
                    made + 1,
                    max_attempts,
                    options,
                    report,
                    meta=None if meta is None else jobmeta.decode(meta),
                )
            except (ValueError, TypeError, RecursionError) as exc:  # written by something else
                delivery = Delivery(queue, job_id, None, made + 1, max_attempts, None, report)
                self._unreadable(lane, SqliteJob(delivery, seq, priority, token), exc)
                continue
            jobs.append(SqliteJob(delivery, seq, priority, token))
        return jobs

    def _unreadable(self, lane: SqliteLane, job: SqliteJob, exc: Exception) -> None:
        """Fail a leased job whose row cannot be read, alone: its outcome is recorded by the
        next round like any other, which frees its place."""
        what = "nested too deep" if isinstance(exc, RecursionError) else f"not JSON: {exc}"
        message = f"the job's stored data or backoff is {what}"[:500]
        log.error(
            "job %s: %s; failed",
            job.delivery.job_id,
            message,
            extra={"queue": lane.name, "job_id": job.delivery.job_id},
        )
        lane.held += 1
        error = ErrorInfo("InvalidJobData", message)
        lane.finished.append((job, Failed(error, lane.settings.dead_letter)))
        lane.wake.set()

    async def idle(self, group: list[SqliteLane], wake: asyncio.Event) -> None:
        timeout = None
        if not self.control.stopping:
            due = self.last_poll + self.poll_every
            due = min([due] + [lane.retainer.next_due() for lane in group])
            timeout = max(0.0, due - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _progress(self, seq: int, lease: str, value: Progress) -> None:
        text = dumps(value)
        await transport.write(self.conn, lambda c: sql.set_progress(c, text, seq, lease), 30)

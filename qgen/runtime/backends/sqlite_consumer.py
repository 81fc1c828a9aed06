"""The SQLite consumer: leases jobs, hands them to the runner, records outcomes in batches.

One *round* is one ``BEGIN IMMEDIATE`` transaction that records every outcome that arrived since
the last round and leases the next jobs for the free slots (``batch_size`` running plus
``prefetch`` leased ahead), so a busy worker pays one commit (one fsync at FULL) per batch, not
per job. Rounds run inline on the event loop on the consumer's own connection: a thread hop per
round measured slower (GIL hand-offs) and halved the jobs per commit; a locked file is waited
for with ``asyncio.sleep`` between tries, so the loop never blocks inside SQLite. Guarantees:

- never lost: a job is leased (``active`` with ``lease_until``) in the same transaction that
  records the outcomes before it; a worker that dies leaves leases that expire and are recovered
  by any consumer of that queue (the stall is counted; past ``max_stalled_count`` the job fails);
- never run by two workers at once: leases are renewed by a heartbeat every third of
  ``visibility_timeout``, and every outcome is applied only ``WHERE lease = <this lease>``, so a
  worker whose lease was taken over cannot overwrite the new holder's work;
- completed stays completed: an outcome counts once its transaction committed (at
  ``synchronous=FULL``, once it is on disk).

Trade-offs: jobs leased ahead show as ``active`` until they start; on ``stop()`` they go back to
the queue at once, but if the worker is killed they wait for their lease to expire like the
running ones, and that recovery counts as a stall for them too (the file cannot tell a
started job from a prefetched one without a write per job start). Set ``prefetch`` low where
that matters. An idle worker notices jobs added by other processes within ``poll_interval``
(default 100 ms; one cheap indexed read per poll), and at once for adds made through the same
backend object.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

from qgen.runtime.backends import sqlite_db as db
from qgen.runtime.backends import sqlite_outcomes as outcomes
from qgen.runtime.backends.base import (
    Delivery,
    ErrorInfo,
    Failed,
    Handler,
    Outcome,
    QueueSettings,
    Retry,
)
from qgen.runtime.backends.sqlite_outcomes import Done, QueueRules
from qgen.runtime.interaction import Progress

if TYPE_CHECKING:
    from qgen.runtime.backends.sqlite import SqliteBackend

log = logging.getLogger("qgen.sqlite")
T = TypeVar("T")


class SqliteConsumer:
    def __init__(
        self, backend: SqliteBackend, queues: Sequence[QueueSettings], handle: Handler
    ) -> None:
        self._backend = backend
        self._rules = {q.name: QueueRules.of(q) for q in queues}
        self._handle = handle
        names = [q.config.get("name") for q in queues if q.config.get("name")]
        self._worker = str(names[0]) if names else f"{socket.gethostname()}:{os.getpid()}"
        self._token_base = uuid.uuid4().hex[:12]
        self._rounds = 0
        self._timeout = backend.url.busy_timeout_ms / 1000
        self._pending: list[Done] = []
        self._buffer: dict[str, collections.deque[db.Leased]] = {
            q: collections.deque() for q in self._rules
        }
        self._held: dict[str, int] = dict.fromkeys(self._rules, 0)  # leased: running + buffered
        self._active: dict[str, int] = dict.fromkeys(self._rules, 0)  # running
        self._running: dict[int, tuple[db.Leased, asyncio.Task[None]]] = {}
        self._idle_until: dict[str, float] = dict.fromkeys(self._rules, 0.0)
        self._maybe_empty: set[str] = set(self._rules)  # check with a read before leasing
        self._kicked = False
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._finished: asyncio.Event | None = None
        self._conn: sqlite3.Connection | None = None

    def _kick(self) -> None:
        """An add in this process: look for work now, not at the next poll."""
        self._kicked = True
        if self._wake is not None:
            self._wake.set()

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "consumer not running"
        return self._conn

    # -- life cycle --------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()
        self._backend._wakers.append(self._kick)
        url = self._backend.url
        beat: asyncio.Task[None] | None = None
        try:
            self._conn = db.open_db(url.path, url.synchronous, url.busy_timeout_ms)
            if any(
                r.keep_completed is not None or r.keep_failed is not None
                for r in self._rules.values()
            ):
                await db.write(self._conn, lambda c: c.execute(db.FINISHED_INDEX), self._timeout)
            beat = asyncio.create_task(self._heartbeat())
            await self._loop()
        finally:
            if beat is not None:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)
            await self._release_all()
            self._backend._wakers.remove(self._kick)
            if self._conn is not None:
                self._conn.close()
            self._finished.set()

    async def stop(self, grace: float) -> None:
        self._stopping = True
        if self._wake is None or self._finished is None:
            return  # never started
        for q, buf in self._buffer.items():  # leased ahead, not started: give back at once
            while buf:
                self._pending.append((buf.popleft(), None))
                self._held[q] -= 1
        self._wake.set()
        tasks = [t for _, t in self._running.values()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=max(0.0, grace))
            for t in late:
                t.cancel()  # _run_job gives its lease back
            if late:
                log.warning(
                    "%d job(s) still running after %.1f s grace; given back", len(late), grace
                )
                await asyncio.gather(*late, return_exceptions=True)
        await self._finished.wait()

    # -- the loop ----------------------------------------------------------------------------

    async def _loop(self) -> None:
        wake = self._wake
        assert wake is not None
        while True:
            # A round blocks the loop while it commits: first let the jobs that can run now
            # run (and finish), so one commit records them all (a few yields at most).
            for _ in range(4):
                n = len(self._pending)
                await asyncio.sleep(0)
                if len(self._pending) == n:
                    break
            wake.clear()
            if self._stopping and not self._running and not self._pending:
                return
            done, self._pending = self._pending, []
            want = self._wanted()
            if done or want:
                try:
                    got = await self._round(done, want)
                except Exception:
                    log.exception("SQLite round failed; retrying")
                    self._pending[:0] = done
                    await asyncio.sleep(0.2)
                    continue
                now = time.monotonic()
                for q, n in want.items():
                    jobs = got.get(q, [])
                    if len(jobs) < n:  # the queue ran dry: poll it at its interval
                        self._idle_until[q] = now + self._rules[q].poll
                        self._maybe_empty.add(q)
                    else:
                        self._idle_until[q] = 0.0
                        self._maybe_empty.discard(q)
                    if jobs and self._stopping:  # stop() came during the round
                        self._pending.extend((job, None) for job in jobs)
                    elif jobs:
                        self._buffer[q].extend(jobs)
                        self._held[q] += len(jobs)
                        self._start(q)
                if done or self._pending or any(got.values()):
                    continue  # look again at once: more may have finished meanwhile
            await self._sleep()

    def _wanted(self) -> dict[str, int]:
        if self._stopping:
            return {}
        kicked, self._kicked = self._kicked, False
        now = time.monotonic()
        want = {}
        for q, r in self._rules.items():
            free = r.capacity - self._held[q]
            if free > 0 and (kicked or self._idle_until[q] <= now):
                want[q] = free
        return want

    async def _sleep(self) -> None:
        assert self._wake is not None
        now = time.monotonic()
        waits = [
            t - now
            for q, t in self._idle_until.items()
            if self._held[q] < self._rules[q].capacity and not self._stopping
        ]
        timeout = max(0.0, min(waits)) if waits else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _start(self, q: str) -> None:
        buf = self._buffer[q]
        limit = self._rules[q].concurrency
        while buf and self._active[q] < limit:
            job = buf.popleft()
            self._active[q] += 1
            self._running[job.seq] = (job, asyncio.create_task(self._run_job(job)))

    async def _run_job(self, job: db.Leased) -> None:
        delivery = Delivery(
            queue=job.queue,
            job_id=job.id,
            data=db.loads(job.data),
            attempt=job.attempts_made + 1,
            max_attempts=job.max_attempts,
            backoff=None if job.backoff is None else db.loads(job.backoff),
            report_progress=functools.partial(self._progress, job),
        )
        outcome: Outcome | None = None
        try:
            outcome = await self._handle(delivery)
        except asyncio.CancelledError:
            outcome = None  # stopped past the grace period: give the job back
        except Exception as exc:  # the runner never raises for job errors; guard anyway
            log.exception(
                "handler raised for job %s on %s",
                job.id,
                job.queue,
                extra={"queue": job.queue, "job_id": job.id},
            )
            err = ErrorInfo(type(exc).__name__, str(exc))
            more = job.attempts_made + 1 < job.max_attempts
            outcome = Retry(err, 1.0) if more else Failed(err, self._rules[job.queue].dead_letter)
        finally:
            q = job.queue
            self._running.pop(job.seq, None)
            self._held[q] -= 1
            self._active[q] -= 1
            self._pending.append((job, outcome))
            if self._wake is not None:
                self._wake.set()
            if not self._stopping:
                self._start(q)

    async def _progress(self, job: db.Leased, value: Progress) -> None:
        text = db.dumps(value)
        await db.write(self.conn, lambda c: db.set_progress(c, text, job.seq, job.lease), 30)

    async def _release_all(self) -> None:
        """On the way out: record what is pending, give back whatever is still held."""
        left: list[Done] = [(j, None) for buf in self._buffer.values() for j in buf]
        left += [(j, None) for j, _ in self._running.values()]
        left += self._pending
        self._pending = []
        if left and self._conn is not None:
            try:
                await self._round(left, {})
            except Exception:
                log.exception("could not give back %d job(s); their leases will expire", len(left))

    # -- SQL ---------------------------------------------------------------------------------

    async def _round(self, done: list[Done], want: dict[str, int]) -> dict[str, list[db.Leased]]:
        conn = self.conn
        now = time.time()
        ready = [q for q in want if q not in self._maybe_empty or db.has_ready(conn, q, now)]
        if not done and not ready:
            return {}
        self._rounds += 1
        token = f"{self._token_base}-{self._rounds}"

        plan = outcomes.plan(done, self._rules, self._backend.max_attempts, now)

        def body(c: sqlite3.Connection) -> dict[str, list[db.Leased]]:
            outcomes.apply(c, plan)
            got = {}
            for q in ready:
                db.promote(c, q, now)
                until = now + self._rules[q].visibility
                got[q] = db.lease(c, q, want[q], token, self._worker, now, until)
            return got

        return await db.write(conn, body, self._timeout)

    async def _heartbeat(self) -> None:
        period = max(0.05, min(r.visibility for r in self._rules.values()) / 3)
        while True:
            try:
                await self._beat()
            except Exception:
                log.exception("SQLite heartbeat failed; retrying")
            await asyncio.sleep(period)

    async def _beat(self) -> None:
        """Renew our leases, then recover expired ones of our queues (dead workers)."""
        conn = self.conn
        now = time.time()
        by_queue: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
        for job, _ in self._running.values():
            by_queue[job.queue].append((job.seq, job.lease))
        for buf in self._buffer.values():
            for job in buf:
                by_queue[job.queue].append((job.seq, job.lease))
        if by_queue:

            def renew(c: sqlite3.Connection) -> None:
                for q, rows in by_queue.items():
                    db.renew(c, now + self._rules[q].visibility, rows)

            await db.write(conn, renew, self._timeout)
        for q, rules in self._rules.items():
            stale = await db.read(conn, functools.partial(db.expired, conn, q, now), self._timeout)
            if stale:
                recover = functools.partial(self._recover, rules, stale, now)
                await db.write(conn, recover, self._timeout)

    def _recover(
        self,
        rules: QueueRules,
        stale: list[tuple[int, str, int, str | None]],
        now: float,
        c: sqlite3.Connection,
    ) -> None:
        for seq, job_id, stalled, lease in stale:
            count = stalled + 1
            error = None
            if count > rules.max_stalled:
                msg = (
                    f"job stalled {count} time(s), more than max_stalled_count={rules.max_stalled}"
                )
                error = db.dumps(ErrorInfo("JobStalled", msg).to_json())
                if rules.dead_letter:
                    attempts = self._backend.max_attempts(rules.dead_letter)
                    db.dead_letter_copy(c, rules.dead_letter, seq, lease, attempts, now)
            if db.recover(c, seq, count, error, now):
                log.warning(
                    "job %s on %s: lease expired (worker gone?); %s",
                    job_id,
                    rules.name,
                    "failed" if error else "given back to the queue",
                    extra={"queue": rules.name, "job_id": job_id},
                )

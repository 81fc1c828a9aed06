"""The SQLite consumer: leases jobs, hands them to the runner, records outcomes in batches.

All of its SQL runs on one dedicated thread with its own connection, so a commit's fsync never
blocks the event loop that runs the jobs. One *round* is one ``BEGIN IMMEDIATE`` transaction that
records every outcome that arrived since the last round and leases the next jobs for the free
slots; while a round commits, jobs keep running and finishing, and the next round takes all of
them at once. Guarantees kept:

- never lost: a job is leased (``active`` with ``lease_until``) in the same transaction that
  records the outcomes before it; a worker that dies leaves leases that expire and are recovered
  by any consumer of that queue (the stall is counted; past ``max_stalled_count`` the job fails);
- never run by two workers at once: leases are renewed by a heartbeat every third of
  ``visibility_timeout``, and every outcome is applied only ``WHERE lease = <this lease>``, so a
  worker whose lease was taken over cannot overwrite the new holder's work;
- completed stays completed: an outcome counts once its transaction committed (at
  ``synchronous=FULL``, once it is on disk).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import functools
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from qgen.runtime.backends import sqlite_db as db
from qgen.runtime.backends.base import (
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    Handler,
    Outcome,
    QueueSettings,
    Retry,
)
from qgen.runtime.interaction import Progress

if TYPE_CHECKING:
    from qgen.runtime.backends.sqlite import SqliteBackend

log = logging.getLogger("qgen.sqlite")
T = TypeVar("T")

DEFAULT_POLL_MS = 100
DEFAULT_VISIBILITY_S = 30.0
DEFAULT_MAX_STALLED = 1


@dataclass(frozen=True, slots=True)
class _QueueRules:
    name: str
    concurrency: int
    prefetch: int
    poll: float  # s
    visibility: float  # s
    max_stalled: int
    keep_completed: int | None  # None: keep all
    keep_failed: int | None
    dead_letter: str | None

    @classmethod
    def of(cls, s: QueueSettings) -> _QueueRules:
        c = s.config
        return cls(
            name=s.name,
            concurrency=max(1, s.concurrency),
            prefetch=max(1, s.prefetch),
            poll=float(c.get("poll_interval", DEFAULT_POLL_MS)) / 1000.0,
            visibility=float(c.get("visibility_timeout", DEFAULT_VISIBILITY_S)),
            max_stalled=int(c.get("max_stalled_count", DEFAULT_MAX_STALLED)),
            keep_completed=_keep(c.get("remove_on_complete")),
            keep_failed=_keep(c.get("remove_on_fail")),
            dead_letter=c.get("dead_letter"),
        )

    @property
    def capacity(self) -> int:
        """Jobs this process may hold leased at once: running plus prefetched."""
        return max(self.concurrency, self.prefetch)


def _keep(value: object) -> int | None:
    if value is None or value is False:
        return None
    if value is True:
        return 0
    return max(0, int(str(value)))


# A recorded outcome: (job, outcome), or (job, None) to give the lease back untouched.
_Done = tuple[db.Leased, Outcome | None]


class SqliteConsumer:
    def __init__(
        self, backend: SqliteBackend, queues: Sequence[QueueSettings], handle: Handler
    ) -> None:
        self._backend = backend
        self._rules = {q.name: _QueueRules.of(q) for q in queues}
        self._handle = handle
        names = [q.config.get("name") for q in queues if q.config.get("name")]
        self._worker = str(names[0]) if names else f"{socket.gethostname()}:{os.getpid()}"
        self._token_base = uuid.uuid4().hex[:12]
        self._rounds = 0
        self._pending: list[_Done] = []
        self._buffer: dict[str, collections.deque[db.Leased]] = {
            q: collections.deque() for q in self._rules
        }
        self._held: dict[str, int] = dict.fromkeys(self._rules, 0)  # leased: running + buffered
        self._running: dict[int, tuple[db.Leased, asyncio.Task[None]]] = {}
        self._idle_until: dict[str, float] = dict.fromkeys(self._rules, 0.0)
        self._kicked = False
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._finished: asyncio.Event | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    # -- plumbing ----------------------------------------------------------------------------

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _kick(self) -> None:
        """An add in this process: look for work now, not at the next poll."""
        self._kicked = True
        if self._wake is not None:
            self._wake.set()

    def _token(self) -> str:
        self._rounds += 1
        return f"{self._token_base}-{self._rounds}"

    # -- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="qgen-sqlite")
        self._backend._wakers.append(self._kick)
        url = self._backend.url
        beat: asyncio.Task[None] | None = None
        try:
            self._conn = await self._in_thread(
                db.open_db, url.path, url.synchronous, url.busy_timeout_ms
            )
            beat = asyncio.create_task(self._heartbeat())
            await self._loop()
        finally:
            if beat is not None:
                beat.cancel()
                await asyncio.gather(beat, return_exceptions=True)
            await self._release_all()
            self._backend._wakers.remove(self._kick)
            if self._conn is not None:
                await self._in_thread(self._conn.close)
            self._executor.shutdown(wait=True)
            self._finished.set()

    async def stop(self, grace: float) -> None:
        self._stopping = True
        if self._wake is None or self._finished is None:
            return  # never started
        for q, buf in self._buffer.items():  # prefetched, not started: give back at once
            while buf:
                self._pending.append((buf.popleft(), None))
                self._held[q] -= 1
        self._wake.set()
        tasks = [t for _, t in self._running.values()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=max(0.0, grace))
            for t in late:
                t.cancel()  # its lease is given back by _run_job
            if late:
                log.warning(
                    "%d job(s) still running after %.1f s grace; given back", len(late), grace
                )
                await asyncio.gather(*late, return_exceptions=True)
        await self._finished.wait()

    async def _loop(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            if self._stopping and not self._running and not self._pending:
                return
            done, self._pending = self._pending, []
            want = self._wanted()
            if done or want:
                try:
                    got = await self._in_thread(self._round, done, want)
                except Exception:
                    log.exception("SQLite round failed; retrying")
                    self._pending[:0] = done
                    await asyncio.sleep(0.2)
                    continue
                now = time.monotonic()
                for q, n in want.items():
                    short = len(got.get(q, ())) < n
                    self._idle_until[q] = now + self._rules[q].poll if short else 0.0
                for jobs in got.values():
                    for job in jobs:
                        self._buffer[job.queue].append(job)
                        self._held[job.queue] += 1
                self._start_buffered()
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
                want[q] = min(free, r.prefetch)
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

    def _start_buffered(self) -> None:
        for q, buf in self._buffer.items():
            limit = self._rules[q].concurrency
            while buf and sum(1 for j, _ in self._running.values() if j.queue == q) < limit:
                job = buf.popleft()
                task = asyncio.create_task(self._run_job(job))
                self._running[job.seq] = (job, task)

    async def _run_job(self, job: db.Leased) -> None:
        delivery = Delivery(
            queue=job.queue,
            job_id=job.id,
            data=db.loads(job.data),
            attempt=job.attempts_made + 1,
            max_attempts=job.max_attempts,
            backoff=db.loads(job.backoff),
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
            self._running.pop(job.seq, None)
            self._held[job.queue] -= 1
            self._pending.append((job, outcome))
            if self._wake is not None:
                self._wake.set()
            if not self._stopping:
                self._start_buffered()

    async def _progress(self, job: db.Leased, value: Progress) -> None:
        assert self._conn is not None
        await self._in_thread(db.set_progress, self._conn, db.dumps(value), job.seq, job.lease)

    async def _release_all(self) -> None:
        """On the way out: give back whatever is still held (normally nothing)."""
        left: list[_Done] = [(j, None) for buf in self._buffer.values() for j in buf]
        left += [(j, None) for j, _ in self._running.values()]
        left += self._pending
        self._pending = []
        if left and self._conn is not None:
            try:
                await self._in_thread(self._round, left, {})
            except Exception:
                log.exception("could not give back %d job(s); their leases will expire", len(left))

    # -- on the SQL thread -------------------------------------------------------------------

    def _round(self, done: list[_Done], want: dict[str, int]) -> dict[str, list[db.Leased]]:
        conn = self._conn
        assert conn is not None
        now = time.time()
        ready = [q for q in want if db.has_ready(conn, q, now)]
        if not done and not ready:
            return {}
        token = self._token()

        def body(c: sqlite3.Connection) -> dict[str, list[db.Leased]]:
            self._record(c, done, now)
            got = {}
            for q in ready:
                until = now + self._rules[q].visibility
                got[q] = db.lease(c, q, want[q], token, self._worker, now, until)
            return got

        return db.with_write(conn, body)

    def _record(self, c: sqlite3.Connection, done: list[_Done], now: float) -> None:
        finish: list[tuple[str, str | None, str | None, float, int, str]] = []
        delete: list[tuple[int, str]] = []
        retry: list[tuple[str, float, int, str]] = []
        release: list[tuple[int, str]] = []
        trims: set[tuple[str, str, int]] = set()
        for job, out in done:
            rules = self._rules.get(job.queue)
            lease = (job.seq, job.lease)
            if out is None:
                release.append(lease)
                continue
            if isinstance(out, Retry):
                start = now + max(0.0, out.delay)
                retry.append((db.dumps(out.error.to_json()), start, job.seq, job.lease))
                continue
            if isinstance(out, Completed):
                state, keep = "completed", rules.keep_completed if rules else None
                result, error = db.dumps(out.result), None
            elif isinstance(out, Failed):
                state, keep = "failed", rules.keep_failed if rules else None
                result, error = None, db.dumps(out.error.to_json())
                if out.dead_letter:
                    target = out.dead_letter
                    attempts = self._backend.max_attempts(target)
                    db.dead_letter_copy(c, target, job.seq, job.lease, attempts, now)
            else:
                assert isinstance(out, Discarded)
                state, keep = "discarded", rules.keep_failed if rules else None
                result = None
                error = db.dumps(ErrorInfo("Discarded", out.reason).to_json())
            if keep == 0:
                delete.append(lease)
            else:
                finish.append((state, result, error, now, job.seq, job.lease))
                if keep is not None:
                    trims.add((job.queue, state, keep))
        changed = 0
        if finish:
            changed += db.finish(c, finish)
        if delete:
            changed += db.delete_leased(c, delete)
        if retry:
            changed += db.retry(c, retry)
        if release:
            changed += db.release(c, release)
        if changed < len(done):
            log.warning(
                "%d outcome(s) not recorded: their lease expired and the job was taken over",
                len(done) - changed,
            )
        for queue, state, keep in trims:
            db.trim(c, queue, state, keep)

    def _beat(self, held: list[db.Leased]) -> None:
        """Renew our leases, then recover expired ones of our queues (dead workers)."""
        conn = self._conn
        assert conn is not None
        now = time.time()
        by_queue: dict[str, list[tuple[int, str]]] = collections.defaultdict(list)
        for job in held:
            by_queue[job.queue].append((job.seq, job.lease))
        if by_queue:

            def renew(c: sqlite3.Connection) -> None:
                for q, rows in by_queue.items():
                    db.renew(c, now + self._rules[q].visibility, rows)

            db.with_write(conn, renew)
        for q, rules in self._rules.items():
            stale = db.expired(conn, q, now)
            if stale:
                db.with_write(conn, functools.partial(self._recover, rules, stale, now))

    def _recover(
        self,
        rules: _QueueRules,
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

    async def _heartbeat(self) -> None:
        period = max(0.05, min(r.visibility for r in self._rules.values()) / 3)
        while True:
            held = [j for j, _ in self._running.values()]
            held += [j for buf in self._buffer.values() for j in buf]
            try:
                await self._in_thread(self._beat, held)
            except Exception:
                log.exception("SQLite heartbeat failed; retrying")
            await asyncio.sleep(period)

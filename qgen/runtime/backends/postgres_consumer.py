"""The PostgreSQL consumer: one loop per queue, each on its own connection.

Per round a loop sends, in one pipeline (one round trip, one implicit transaction), the outcomes
of the jobs that finished since the last round AND the lease of the next batch
(``FOR UPDATE SKIP LOCKED``). Outcomes are guarded by state, lease owner and stall count, so a
round that is sent again after a lost connection changes nothing twice. An idle loop sleeps until
a NOTIFY for its queue, its next delayed job, or ``poll_interval``. A side connection renews
leases (heartbeats), stores progress and recovers jobs whose lease ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from qgen.runtime.backends.base import (
    Delivery,
    ErrorInfo,
    Failed,
    Handler,
    Outcome,
    QueueSettings,
    Retry,
)
from qgen.runtime.backends.postgres_conn import (
    CONNECTION_ERRORS,
    Backoff,
    SideConnection,
    connect,
)
from qgen.runtime.backends.postgres_notify import Listener
from qgen.runtime.backends.postgres_rounds import (
    GIVE_BACK,
    GiveBack,
    Held,
    RoundPlan,
    dumps,
    keep_count,
)
from qgen.runtime.backends.postgres_sql import WAITER_HELLO, Statements, lock_key
from qgen.runtime.interaction import Progress

log = logging.getLogger("qgen.postgres")
SHORT_JOB = 0.05  # s: jobs shorter than this on average get leased ahead (see _want)
APP = "qgen-worker"  # application_name of worker connections (pg_stat_activity)


@dataclass
class _Loop:
    settings: QueueSettings
    held: dict[str, Held] = field(default_factory=dict)
    ready: deque[Held] = field(default_factory=deque)
    finished: list[tuple[Held, Outcome | GiveBack]] = field(default_factory=list)
    leased: list[tuple[Any, ...]] = field(default_factory=list)  # rows not yet taken in
    running: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    notified: bool = True  # fetch at start
    empty: bool = False  # the last fetch found fewer jobs than asked
    due: float | None = None  # monotonic time the next known delayed job becomes ready
    last_fetch: float = 0.0
    last_retain: float = 0.0
    wildcard: bool = False  # a waiter appeared: tell waiters to look again, once
    avg_run: float = 1.0  # s, moving average of job run times (start as if jobs were long)
    conn: psycopg.AsyncConnection[Any] | None = None

    @property
    def queue(self) -> str:
        return self.settings.name


class PostgresConsumer:
    def __init__(
        self,
        conninfo: str,
        st: Statements,
        queues: Sequence[QueueSettings],
        handle: Handler,
        worker_id: str,
    ) -> None:
        self.conninfo, self.st, self.handle, self.worker = conninfo, st, handle, worker_id
        self.loops = {q.name: _Loop(q) for q in queues}
        self.side = SideConnection(conninfo)
        self.stopping = False
        self.abandon_at: float | None = None  # stop: give up on an unreachable server then
        self.waiters = True  # does any client wait for results (checked every second)
        self.suspect: str | None = None  # the running job that stalled before, if any
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        if any(
            keep_count(lp.settings.config.get(k))
            for lp in self.loops.values()
            for k in ("remove_on_complete", "remove_on_fail")
        ):
            key = lock_key(self.st.schema)
            await self.side.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                await self.side.execute(self.st.finished_index, ())
            finally:
                await self.side.execute("SELECT pg_advisory_unlock(%s)", (key,))
        listener = Listener(self.conninfo, [self.st.new_channel], self._on_notify, self._wake_all)
        await listener.start()
        maint = asyncio.create_task(self._maintain(), name="qgen-pg-maintenance")
        try:
            await asyncio.gather(*(self._run_loop(lp) for lp in self.loops.values()))
        finally:
            maint.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await maint
            await listener.close()
            await self.side.close()

    async def stop(self, grace: float) -> None:
        self.stopping = True
        self.abandon_at = time.monotonic() + grace + 10.0
        self._wake_all()
        running = [t for t in self._tasks if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for t in late:
                t.cancel()  # its job is given back, not failed

    def _on_notify(self, _channel: str, payload: str) -> None:
        if payload == WAITER_HELLO:
            # a round in flight may finish jobs without notifying: follow it with a wildcard
            self.waiters = True
            for loop in self.loops.values():
                loop.wildcard = True
                loop.wake.set()
            return
        lp = self.loops.get(payload)
        if lp is not None:
            lp.notified = True
            lp.wake.set()

    def _wake_all(self) -> None:
        for lp in self.loops.values():
            lp.notified = True
            lp.wake.set()

    # -- the per-queue loop ----------------------------------------------------------------

    async def _run_loop(self, lp: _Loop) -> None:
        backoff = Backoff()
        try:
            while not (self.stopping and not lp.held and not lp.finished and not lp.leased):
                if self.abandon_at is not None and time.monotonic() > self.abandon_at:
                    log.error("queue %s: giving up %d leases at stop", lp.queue, len(lp.held))
                    return
                try:
                    if lp.conn is None or lp.conn.closed:
                        lp.conn = await connect(self.conninfo, application_name=APP)
                        # The planner pitfall: on a table never analyzed (or with statistics
                        # from before a bulk add) the fetch would sort every ready job in a
                        # bitmap scan. Every statement of this connection is built for an
                        # ordered index scan, so the planner is told never to prefer those.
                        await lp.conn.execute("SET enable_sort = off")
                        await lp.conn.execute("SET enable_bitmapscan = off")
                        lp.notified = True
                    await self._round(lp)
                    backoff.reset()
                except CONNECTION_ERRORS as exc:
                    await _close(lp.conn)
                    lp.conn = None
                    delay = backoff.next()
                    log.warning(
                        "queue %s: connection lost (%s); reconnecting in %.2f s",
                        lp.queue,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                except psycopg.Error:
                    log.exception("queue %s: round failed; retrying", lp.queue)
                    await asyncio.sleep(backoff.next())
        finally:
            await _close(lp.conn)
            lp.conn = None

    def _want(self, lp: _Loop, applying: int) -> int:
        if self.stopping:
            return 0
        cap = max(lp.settings.concurrency, lp.settings.prefetch)
        if lp.avg_run < SHORT_JOB:
            # short jobs: lease up to ``prefetch`` more than can run, so the next ones start
            # while the round trip that records the last ones is in flight; long jobs never
            # wait in a busy worker while another one could run them
            cap = lp.settings.concurrency + lp.settings.prefetch
        held = len(lp.held) + len(lp.leased) - applying
        return max(0, min(lp.settings.prefetch, cap - held))

    def _should_fetch(self, lp: _Loop, now: float) -> bool:
        poll = float(lp.settings.config.get("poll_interval", 2000)) / 1000.0
        return (
            not lp.empty
            or lp.notified
            or (lp.due is not None and now >= lp.due)
            or now - lp.last_fetch >= poll
        )

    async def _round(self, lp: _Loop) -> None:
        lp.wake.clear()
        if self.stopping:
            while lp.ready:
                lp.finished.append((lp.ready.popleft(), GIVE_BACK))
        now = time.monotonic()
        batch = lp.finished
        want = self._want(lp, len(batch))
        fetch_n = want if want and self._should_fetch(lp, now) else 0
        if not batch and not fetch_n and not lp.wildcard:
            if lp.leased:
                self._take_in(lp)
                return
            if self.stopping and not lp.held:
                # Nothing left to finish: the stop's wake-up may have been cleared above (it
                # came while this loop was connecting), so idling now would never end.
                return
            await self._idle(lp, want, now)
            return
        lp.finished = []
        was_notified, lp.notified = lp.notified, False
        wildcard, lp.wildcard = lp.wildcard, False
        plan = RoundPlan(
            self.st, lp.queue, self.worker, lp.settings.config, batch, self.waiters, wildcard
        )
        retain = plan.wants_retention and (
            plan.small_retention or now - lp.last_retain >= 1.0 or self.stopping
        )
        assert lp.conn is not None
        send = asyncio.ensure_future(plan.send(lp.conn, fetch_n, retain, self.suspect is None))
        try:
            if lp.leased:
                # Let the round go out first, then take in the jobs of the last one while
                # the server works on it: that client work is off the round-trip path.
                try:
                    await asyncio.sleep(0)
                finally:
                    self._take_in(lp)
            rows = await send
        except BaseException:
            if not send.done():
                send.cancel()
            lp.finished[:0] = batch  # guarded statements: sending them again is safe
            lp.notified = lp.notified or bool(fetch_n)
            lp.wildcard = lp.wildcard or wildcard
            raise
        if retain:
            lp.last_retain = now
        for h, _ in batch:
            lp.held.pop(h.id, None)
        for delay in plan.retry_delays:
            t = now + delay
            lp.due = t if lp.due is None else min(lp.due, t)
        if fetch_n:
            lp.last_fetch = now
            lp.empty = len(rows) < fetch_n
            if lp.due is not None and now >= lp.due:
                lp.due = None
        lp.leased = rows
        # short fetch: when idle, or when a NOTIFY brought nothing ready (a delayed add), ask
        # when the next delayed job is due and sleep until then
        if fetch_n and lp.empty and not rows and (not lp.held or was_notified):
            await self._learn_due(lp)

    def _take_in(self, lp: _Loop) -> None:
        """Hold and start the jobs leased by the last round."""
        rows, lp.leased = lp.leased, []
        suspects = 0
        for row in sorted(rows, key=lambda r: (-r[7], r[8])):
            h = self._held(lp, row)
            lp.held[h.id] = h
            suspects += h.stalled > 0
            if h.stalled and (suspects > 1 or self.suspect is not None):
                lp.finished.append((h, GIVE_BACK))  # quarantine: one such job at a time
                lp.wake.set()
            else:
                lp.ready.append(h)
        self._start_ready(lp)

    async def _idle(self, lp: _Loop, want: int, now: float) -> None:
        timeout: float | None = None
        if want:
            timeout = float(lp.settings.config.get("poll_interval", 2000)) / 1000.0
            timeout = max(0.0, timeout - (now - lp.last_fetch))
            if lp.due is not None:
                timeout = min(timeout, max(0.0, lp.due - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(lp.wake.wait(), timeout)

    async def _learn_due(self, lp: _Loop) -> None:
        assert lp.conn is not None
        cur = await lp.conn.execute(self.st.next_due, (lp.queue,))
        row = await cur.fetchone()
        if row and row[0] is not None:
            lp.due = time.monotonic() + max(0.0, float(row[0]))

    # -- jobs --------------------------------------------------------------------------------

    def _held(self, lp: _Loop, row: tuple[Any, ...]) -> Held:
        job_id, data, retry_count, retry_limit, backoff, stalled, dead_letter = row[:7]
        queue = lp.queue

        async def report(value: Progress) -> None:
            await self.report_progress(queue, job_id, value)

        delivery = Delivery(
            queue=queue,
            job_id=job_id,
            data=None if data is None else json.loads(data),  # text: json.loads(str) is quicker
            attempt=retry_count + 1,
            max_attempts=retry_limit + 1,
            backoff=backoff,
            report_progress=report,
        )
        return Held(job_id, stalled, dead_letter, delivery)

    def _start_ready(self, lp: _Loop) -> None:
        """Start leased jobs while slots are free. Quarantine: a job whose lease expired before
        (its worker may have died running it) never runs beside another such job in this
        process, so a job that kills its worker takes no repeat victims with it."""
        while lp.ready and lp.running < lp.settings.concurrency and not self.stopping:
            h = lp.ready[0]
            if h.stalled and self.suspect:
                h = next((j for j in lp.ready if not j.stalled), None)  # type: ignore[assignment]
                if h is None:
                    return
                lp.ready.remove(h)
            else:
                lp.ready.popleft()
            if h.stalled:
                self.suspect = h.id
            lp.running += 1
            task = asyncio.create_task(self._run_job(lp, h))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_job(self, lp: _Loop, h: Held) -> None:
        outcome: Outcome | GiveBack
        t0 = time.monotonic()
        try:
            outcome = await self.handle(h.delivery)
            lp.avg_run += (time.monotonic() - t0 - lp.avg_run) * 0.1
        except asyncio.CancelledError:
            outcome = GIVE_BACK  # stopped after the grace period: someone else runs it
        except Exception as exc:  # the runner never raises for job errors; this is a bug
            log.exception("queue %s job %s: handler raised", lp.queue, h.id)
            err = ErrorInfo(type(exc).__name__, str(exc))
            d = h.delivery
            outcome = Retry(err, 1.0) if d.attempt < d.max_attempts else Failed(err, None)
        lp.running -= 1
        lp.finished.append((h, outcome))
        lp.wake.set()
        if self.suspect == h.id:
            self.suspect = None
            for other in self.loops.values():
                if other is not lp:
                    self._start_ready(other)
        self._start_ready(lp)

    async def report_progress(self, queue: str, job_id: str, value: Progress) -> None:
        await self.side.execute(self.st.progress, (dumps(value), queue, job_id))

    # -- heartbeats and recovery -------------------------------------------------------------

    async def _maintain(self) -> None:
        vts = [
            float(lp.settings.config.get("visibility_timeout", 30)) for lp in self.loops.values()
        ]
        every = max(0.2, min(vts, default=30.0) / 3)
        last = time.monotonic()
        while True:
            try:
                rows = await self.side.execute(self.st.waiters, (self.st.waiter_app,))
                self.waiters = bool(rows and rows[0][0])
            except psycopg.Error:
                log.exception("checking for waiting clients failed")
                self.waiters = True
            await asyncio.sleep(min(every, 1.0))
            if time.monotonic() - last < every:
                continue
            last = time.monotonic()
            for lp in self.loops.values():
                try:
                    await self._maintain_queue(lp)
                except psycopg.Error:
                    log.exception("queue %s: maintenance failed", lp.queue)

    async def _maintain_queue(self, lp: _Loop) -> None:
        vt = float(lp.settings.config.get("visibility_timeout", 30))
        held = list(lp.held.values())
        if held:
            ids = [h.id for h in held]
            stalled = [h.stalled for h in held]
            await self.side.execute(self.st.heartbeat, (vt, ids, stalled, lp.queue, self.worker))
        max_stalled = int(lp.settings.config.get("max_stalled_count", 1))
        err = dumps(
            ErrorInfo(
                "JobStalled", f"the job's lease expired more than {max_stalled} time(s)"
            ).to_json()
        )
        rows = await self.side.execute(
            self.st.recover, (lp.queue, max_stalled, max_stalled, err, max_stalled)
        )
        for job_id, state, _ in rows:
            log.warning(
                "queue %s job %s: lease expired; now %s",
                lp.queue,
                job_id,
                state,
                extra={"queue": lp.queue, "job_id": job_id},
            )
        if rows:
            self._on_notify("", lp.queue)


async def _close(conn: psycopg.AsyncConnection[Any] | None) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            await conn.close()

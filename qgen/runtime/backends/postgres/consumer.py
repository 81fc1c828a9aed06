"""The PostgreSQL half of the consumer: one loop per queue, each on its own connection.

Per round a loop sends, in one pipeline (one round trip, one implicit transaction), the outcomes
of the jobs that finished since the last round AND the lease of the next batch
(``FOR UPDATE SKIP LOCKED``), see :mod:`.outcomes`. The jobs a round leased are taken in (decoded
and started) while the NEXT round is in flight, off the round-trip path. Outcomes are guarded by
state, lease owner and stall count, so a round that is sent again after a lost connection changes
nothing twice. An idle loop sleeps until a NOTIFY for its queue, its next delayed job, or
``poll_interval``. A side connection renews leases (heartbeats), stores progress and recovers
jobs whose lease ran out; jobs that stalled before are quarantined (one at a time per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import psycopg

from qgen.runtime.backends.base import Delivery, ErrorInfo, Failed
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.backends.postgres.jobs import PgJob, dumps, leased_job
from qgen.runtime.backends.postgres.notify import Listener
from qgen.runtime.backends.postgres.outcomes import RoundPlan
from qgen.runtime.backends.postgres.sql import WAITER_HELLO, Statements, lock_key
from qgen.runtime.backends.postgres.transport import (
    CONNECTION_ERRORS,
    WORKER_APP,
    SideConnection,
    close_quietly,
    connect,
)
from qgen.runtime.interaction import Progress
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.postgres")
SHORT_JOB = 0.05  # s: jobs shorter than this on average get leased ahead (see _want)


class PgLane(Lane[PgJob]):
    def __init__(self, settings: QueueSettings, wake: asyncio.Event) -> None:
        super().__init__(settings, wake)
        self.timed = True  # avg_run decides how far ahead to lease
        self.poll = settings.poll_interval / 1000.0
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.leased: list[tuple[Any, ...]] = []  # rows of the last round, not yet taken in
        self.notified = True  # fetch at start
        self.empty = False  # the last fetch found fewer jobs than asked
        self.due: float | None = None  # monotonic time the next known delayed job is ready
        self.last_fetch = 0.0
        self.last_retain = 0.0
        self.wildcard = False  # a waiter appeared: tell waiters to look again, once
        self.want = 0  # jobs the loop would lease now (its idle wait depends on it)


class PostgresNative:
    settles = False
    gather_yields = 0

    def __init__(self, conninfo: str, st: Statements, worker_id: str) -> None:
        self.conninfo, self.st, self.worker = conninfo, st, worker_id
        self.lanes: dict[str, PgLane] = {}
        self.side = SideConnection(conninfo)
        self.control = Control()
        self.waiters = True  # does any client wait for results (checked every second)
        self._listener: Listener | None = None
        self._waiter_check: asyncio.Task[None] | None = None

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> PgLane:
        lane = self.lanes[settings.name] = PgLane(settings, wake)
        return lane

    def groups(self, lanes: Sequence[PgLane]) -> list[list[PgLane]]:
        return [[lane] for lane in lanes]

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, CONNECTION_ERRORS)

    # -- life cycle --------------------------------------------------------------------------

    async def open(self, control: Control) -> None:
        self.control = control
        if any(lane.settings.keep_completed or lane.settings.keep_failed for lane in self._all()):
            key = lock_key(self.st.schema)
            await self.side.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                await self.side.execute(self.st.finished_index, ())
            finally:
                await self.side.execute("SELECT pg_advisory_unlock(%s)", (key,))
        listener = Listener(self.conninfo, [self.st.new_channel], self._on_notify, self._wake_all)
        await listener.start()
        self._listener = listener
        self._waiter_check = asyncio.create_task(self._check_waiters(), name="qgen-pg-waiters")

    async def close(self) -> None:
        if self._waiter_check is not None:
            self._waiter_check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter_check
        if self._listener is not None:
            await self._listener.close()
        for lane in self._all():
            await close_quietly(lane.conn)
            lane.conn = None
        await self.side.close()

    def _all(self) -> list[PgLane]:
        return list(self.lanes.values())

    def _on_notify(self, _channel: str, payload: str) -> None:
        if payload == WAITER_HELLO:
            # a round in flight may finish jobs without notifying: follow it with a wildcard
            self.waiters = True
            for lane in self._all():
                lane.wildcard = True
                lane.wake.set()
            return
        notified = self.lanes.get(payload)
        if notified is not None:
            notified.notified = True
            notified.wake.set()

    def _wake_all(self) -> None:
        for lane in self._all():
            lane.notified = True
            lane.wake.set()

    # -- rounds ------------------------------------------------------------------------------

    def _want(self, lane: PgLane, applying: int) -> int:
        if self.control.stopping:
            return 0
        s = lane.settings
        cap = max(s.batch_size, s.prefetch)
        if lane.avg_run < SHORT_JOB:
            # short jobs: lease up to ``prefetch`` more than can run, so the next ones start
            # while the round trip that records the last ones is in flight; long jobs never
            # wait in a busy worker while another one could run them
            cap = s.batch_size + s.prefetch
        return max(0, min(s.prefetch, cap - (lane.held - applying)))

    def _should_fetch(self, lane: PgLane, now: float) -> bool:
        return (
            not lane.empty
            or lane.notified
            or (lane.due is not None and now >= lane.due)
            or now - lane.last_fetch >= lane.poll
        )

    async def _conn(self, lane: PgLane) -> psycopg.AsyncConnection[Any]:
        if lane.conn is None or lane.conn.closed:
            conn = await connect(self.conninfo, application_name=WORKER_APP)
            # The planner pitfall: on a table never analyzed (or with statistics from before a
            # bulk add) the fetch would sort every ready job in a bitmap scan. Every statement
            # of this connection is built for an ordered index scan, so the planner is told
            # never to prefer those.
            await conn.execute("SET enable_sort = off")
            await conn.execute("SET enable_bitmapscan = off")
            lane.conn = conn
            lane.notified = True
        return lane.conn

    async def exchange(self, group: list[PgLane], done: list[list[Done[PgJob]]]) -> bool:
        lane, batch = group[0], done[0]
        now = time.monotonic()
        want = lane.want = self._want(lane, len(batch))
        fetch_n = want if want and self._should_fetch(lane, now) else 0
        if not batch and not fetch_n and not lane.wildcard:
            if lane.leased:
                self._take_in(lane)
                return True
            return False
        try:
            conn = await self._conn(lane)
        except BaseException:
            lane.notified = lane.notified or bool(fetch_n)
            raise
        was_notified, lane.notified = lane.notified, False
        wildcard, lane.wildcard = lane.wildcard, False
        plan = RoundPlan(self.st, lane.settings, self.worker, batch, self.waiters, wildcard)
        retain = plan.wants_retention and (
            plan.small_retention or now - lane.last_retain >= 1.0 or self.control.stopping
        )
        suspects = self.control.suspect is None
        send = asyncio.ensure_future(plan.send(conn, fetch_n, retain, suspects))
        try:
            if lane.leased:
                # Let the round go out first, then take in the jobs of the last one while the
                # server works on it: that client work is off the round-trip path.
                try:
                    await asyncio.sleep(0)
                finally:
                    self._take_in(lane)
            rows = await send
        except BaseException as exc:
            if not send.done():
                send.cancel()
            lane.notified = lane.notified or bool(fetch_n)  # guarded statements: resend is safe
            lane.wildcard = lane.wildcard or wildcard
            if isinstance(exc, CONNECTION_ERRORS):
                await close_quietly(lane.conn)
                lane.conn = None
            raise
        self._after_round(lane, plan, now, fetch_n, rows, retain)
        # short fetch: when idle, or when a NOTIFY brought nothing ready (a delayed add), ask
        # when the next delayed job is due and sleep until then
        if fetch_n and lane.empty and not rows and (lane.held == len(batch) or was_notified):
            await self._learn_due(lane, conn)
        return True

    def _after_round(
        self,
        lane: PgLane,
        plan: RoundPlan,
        now: float,
        fetch_n: int,
        rows: list[tuple[Any, ...]],
        retained: bool,
    ) -> None:
        if retained:
            lane.last_retain = now
        for delay in plan.retry_delays:
            t = now + delay
            lane.due = t if lane.due is None else min(lane.due, t)
        if fetch_n:
            lane.last_fetch = now
            lane.empty = len(rows) < fetch_n
            if lane.due is not None and now >= lane.due:
                lane.due = None
        lane.leased = rows
        lane.held += len(rows)
        if rows and self.control.stopping:  # stop came during the round: give them back now
            self._take_in(lane)

    def _take_in(self, lane: PgLane) -> None:
        """Hold and start the jobs leased by the last round. Quarantine: at most one job that
        stalled before per process; the others go back untouched."""
        rows, lane.leased = lane.leased, []
        queue = lane.name
        start: list[PgJob] = []
        back: list[PgJob] = []
        suspects = 0
        for row in sorted(rows, key=lambda r: (-r[7], r[8])):
            job_id = row[0]

            async def report(value: Progress, job_id: str = job_id) -> None:
                await self.side.execute(self.st.progress, (dumps(value), queue, job_id))

            try:
                job = leased_job(queue, row, report)
            except (ValueError, RecursionError) as exc:  # data no JSON decoder reads back
                self._unreadable(lane, row, report, exc)
                continue
            suspects += job.suspect
            if job.suspect and (suspects > 1 or self.control.suspect is not None):
                back.append(job)
            else:
                start.append(job)
        if back:
            lane.give_back(back)
        if start:
            lane.offer(start, counted=True)

    def _unreadable(self, lane: PgLane, row: tuple[Any, ...], report: Any, exc: Exception) -> None:
        job_id, _, retry_count, retry_limit = row[:4]
        delivery = Delivery(lane.name, job_id, None, retry_count + 1, retry_limit + 1, None, report)
        error = ErrorInfo("InvalidJobData", f"the job's data cannot be read: {type(exc).__name__}")
        lane.finished.append((PgJob(delivery, row), Failed(error, lane.settings.dead_letter)))
        lane.wake.set()

    async def idle(self, group: list[PgLane], wake: asyncio.Event) -> None:
        lane = group[0]
        timeout: float | None = None
        if lane.want:
            now = time.monotonic()
            timeout = max(0.0, lane.poll - (now - lane.last_fetch))
            if lane.due is not None:
                timeout = min(timeout, max(0.0, lane.due - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _learn_due(self, lane: PgLane, conn: psycopg.AsyncConnection[Any]) -> None:
        cur = await conn.execute(self.st.next_due, (lane.name,))
        row = await cur.fetchone()
        if row and row[0] is not None:
            lane.due = time.monotonic() + max(0.0, float(row[0]))

    # -- heartbeats and recovery -------------------------------------------------------------

    def renew_every(self, lane: PgLane) -> float:
        return max(0.2, lane.settings.visibility_timeout / 3)

    recover_every = renew_every

    async def renew(self, lane: PgLane, jobs: list[PgJob]) -> None:
        ids = [job.id for job in jobs]
        stalled = [job.stalled for job in jobs]
        vt = lane.settings.visibility_timeout
        await self.side.execute(self.st.heartbeat, (vt, ids, stalled, lane.name, self.worker))

    async def recover(self, lane: PgLane) -> None:
        limit = lane.settings.max_stalled_count
        err = dumps(
            ErrorInfo("JobStalled", f"the job's lease expired more than {limit} time(s)").to_json()
        )
        rows = await self.side.execute(self.st.recover, (lane.name, limit, limit, err, limit))
        for job_id, state, _ in rows:
            log.warning(
                "queue %s job %s: lease expired; now %s",
                lane.name,
                job_id,
                state,
                extra={"queue": lane.name, "job_id": job_id},
            )
        if rows:
            self._on_notify("", lane.name)

    async def _check_waiters(self) -> None:
        """Workers notify finished jobs only while some client waits for results."""
        every = min(1.0, min((self.renew_every(lane) for lane in self._all()), default=1.0))
        while True:
            try:
                rows = await self.side.execute(self.st.waiters, (self.st.waiter_app,))
                self.waiters = bool(rows and rows[0][0])
            except psycopg.Error:
                log.exception("checking for waiting clients failed")
                self.waiters = True
            await asyncio.sleep(every)

"""The PostgreSQL half of the consumer: a bounded number of connections, whatever the queues.

A worker process holds at most ``worker_connections`` connections (the URL's, default 4): one
LISTEN connection, the process's shared connection (:mod:`.transport`) for the side work
(heartbeats, progress, recovery), and the rest for the consuming rounds. The queues are split
over the round connections (balanced by ``batch_size``); each connection has one loop. Per
round a loop sends, in one pipeline (one round trip, one implicit transaction), the outcomes of
the jobs that finished since the last round, for every queue of the loop, AND one lease over
every queue that wants jobs (``FOR UPDATE SKIP LOCKED``, each queue with its own limit: see
``fetch_many``), see :mod:`.outcomes`. That is the fairness: a queue gets up to its own
``prefetch`` per round, so a deep backlog never takes an idle queue's turn, and a job added to
an idle queue is leased by the next round after its NOTIFY.

The jobs a round leased are taken in (decoded and started) while the NEXT round is in flight,
off the round-trip path. Outcomes are guarded by state, lease owner and stall count, so a round
sent again after a lost connection changes nothing twice. A round the server refuses for any
other reason is recorded one outcome at a time, so only the job whose outcome cannot be stored
fails. An idle loop sleeps until a NOTIFY for one of its queues, the next delayed job, or
``poll_interval``. Jobs that stalled before are quarantined (one at a time per process).
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
from qgen.runtime.backends.lanes import Control, Done
from qgen.runtime.backends.postgres.jobs import PgJob, dumps, leased_job
from qgen.runtime.backends.postgres.lanes import LaneRound, PgLane, RoundLoop
from qgen.runtime.backends.postgres.notify import Listener
from qgen.runtime.backends.postgres.outcomes import RoundPlan, record_alone, send_group
from qgen.runtime.backends.postgres.side import SideWork
from qgen.runtime.backends.postgres.sql import WAITER_HELLO, Statements
from qgen.runtime.backends.postgres.transport import (
    CONNECTION_ERRORS,
    WORKER_APP,
    SharedConnection,
    app_name,
    close_quietly,
    connect,
)
from qgen.runtime.interaction import Progress
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.postgres")
SHORT_JOB = 0.05  # s: jobs shorter than this on average get leased ahead (see _want)
RETAIN_EVERY = 1.0  # s: retention with ages or large counts runs at most this often per queue
CONNECTIONS_BESIDE_ROUNDS = 2  # the LISTEN connection and the shared one


class PostgresNative(SideWork):
    settles = False
    gather_yields = 0

    def __init__(
        self,
        conninfo: str,
        st: Statements,
        worker_id: str,
        side: SharedConnection,
        connections: int,
    ) -> None:
        self.conninfo, self.st, self.worker = conninfo, st, worker_id
        self.rounds = max(1, connections - CONNECTIONS_BESIDE_ROUNDS)
        self.app = app_name(conninfo, WORKER_APP)
        self.lanes: dict[str, PgLane] = {}
        self.loops: list[RoundLoop] = []
        self.side = side
        self.control = Control()
        self.waiters = True  # does any client wait for results (checked every second)
        self._listener: Listener | None = None
        self._waiter_check: asyncio.Task[None] | None = None
        self._next_recover = 0.0
        self._resync: asyncio.Future[None] | None = None

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> PgLane:
        lane = self.lanes[settings.name] = PgLane(settings, wake)
        return lane

    def groups(self, lanes: Sequence[PgLane]) -> list[list[PgLane]]:
        """The lanes over at most ``self.rounds`` loops, heaviest first to the lightest loop."""
        groups: list[list[PgLane]] = [[] for _ in range(min(self.rounds, len(lanes)))]
        weights = [0] * len(groups)
        for lane in sorted(lanes, key=lambda lane: -lane.settings.batch_size):
            i = weights.index(min(weights))
            groups[i].append(lane)
            weights[i] += max(1, lane.settings.batch_size)
        self.loops = [RoundLoop(group) for group in groups]
        for loop in self.loops:
            for lane in loop.lanes:
                lane.loop = loop
        return groups

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, CONNECTION_ERRORS)

    # -- life cycle --------------------------------------------------------------------------

    async def open(self, control: Control) -> None:
        self.control = control
        await self.sync_paused()
        listener = Listener(
            self.conninfo,
            [self.st.new_channel],
            self._on_notify,
            self._wake_all,
            application_name=self.app,
        )
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
        if self._resync is not None:
            self._resync.cancel()
        for loop in self.loops:
            await close_quietly(loop.conn)
            loop.conn = None

    def _all(self) -> list[PgLane]:
        return list(self.lanes.values())

    def _on_notify(self, _channel: str, payload: str) -> None:
        if payload.startswith("\n") and self._operator_notify(payload):
            return
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
        """The listener reconnected: notifications may have been missed (a cancel's too: the
        renewal that follows at once reads the requests)."""
        for lane in self._all():
            lane.notified = True
            lane.wake.set()
            lane.renew_soon.set()
        self._resync = asyncio.ensure_future(self.sync_paused())

    # -- rounds ------------------------------------------------------------------------------

    def _want(self, lane: PgLane, applying: int) -> int:
        if self.control.stopping or lane.paused:
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

    async def _conn(self, loop: RoundLoop) -> psycopg.AsyncConnection[Any]:
        if loop.conn is None or loop.conn.closed:
            conn = await connect(self.conninfo, application_name=self.app)
            # The planner pitfall: on a table never analyzed (or with statistics from before a
            # bulk add) the fetch would sort every ready job in a bitmap scan. Every statement
            # of this connection is built for an ordered index scan, so the planner is told
            # never to prefer those.
            await conn.execute("SET enable_sort = off")
            await conn.execute("SET enable_bitmapscan = off")
            loop.conn = conn
            for lane in loop.lanes:
                lane.notified = True
        return loop.conn

    def _plan(self, lane: PgLane, batch: list[Done[PgJob]], now: float) -> LaneRound | None:
        """This lane's part of the next round, or None when it has nothing to send."""
        want = lane.want = self._want(lane, len(batch))
        fetch_n = want if want and self._should_fetch(lane, now) else 0
        owed = self._retention_owed(lane, now)
        if not batch and not fetch_n and not lane.wildcard and not owed:
            return None
        was_notified, lane.notified = lane.notified, False
        wildcard, lane.wildcard = lane.wildcard, False
        plan = RoundPlan(self.st, lane.settings, self.worker, batch, self.waiters, wildcard)
        # retention (with ages, or large counts) at most once a second per group: what a
        # round skips is owed, and applied by a later round even if no job finishes meanwhile
        apply = []
        for i, (touched, small) in enumerate(zip(plan.touched(), plan.small(), strict=True)):
            wants = touched or lane.retain_owed[i]
            due = small or now - lane.last_retain[i] >= RETAIN_EVERY or self.control.stopping
            apply.append(wants and due)
            lane.retain_owed[i] = wants and not due
        plan.retain_groups = (apply[0], apply[1])
        return LaneRound(lane, plan, fetch_n, any(apply), was_notified, wildcard)

    def _retention_owed(self, lane: PgLane, now: float) -> bool:
        """Is retention owed by an earlier round due now?"""
        return any(
            owed and now - last >= RETAIN_EVERY
            for owed, last in zip(lane.retain_owed, lane.last_retain, strict=True)
        )

    async def exchange(self, group: list[PgLane], done: list[list[Done[PgJob]]]) -> bool:
        loop = group[0].loop
        assert loop is not None
        now = time.monotonic()
        quiet = not any(done) and not any(lane.wildcard for lane in group)
        # nothing to record: go on only if a lane should fetch (the idle common case)
        if quiet and not [lane for lane in group if self._fetches(lane, now)]:
            return self._take_in_all(group)
        try:
            conn = await self._conn(loop)
        except BaseException:
            for lane in group:
                lane.notified = True  # guarded statements: a later round may fetch again
            raise
        rounds = [r for r in map(self._plan, group, done, [now] * len(group)) if r is not None]
        if not rounds:
            self._take_in_all(group)
            return True
        try:
            results = await self._send(conn, group, rounds)
        except BaseException as exc:
            for r in rounds:  # guarded statements: sending them again is safe
                r.lane.notified = r.lane.notified or r.notified or bool(r.fetch_n)
                r.lane.wildcard = r.lane.wildcard or r.wildcard
            if isinstance(exc, CONNECTION_ERRORS):
                await close_quietly(loop.conn)
                loop.conn = None
                raise
            if not isinstance(exc, Exception) or not any(r.plan.batch for r in rounds):
                raise
            log.warning("round failed (%s); recording its outcomes one by one", exc)
            for r in rounds:
                await record_alone(conn, r.plan, self.waiters)
            return True
        due = [self._after_round(r, now, rows) for r, rows in zip(rounds, results, strict=True)]
        if any(due):
            await self._learn_due([r.lane for r, d in zip(rounds, due, strict=True) if d], conn)
        return True

    async def _send(
        self, conn: psycopg.AsyncConnection[Any], group: list[PgLane], rounds: list[LaneRound]
    ) -> list[list[tuple[Any, ...]]]:
        suspects = self.control.suspect is None
        plans = [(r.plan, r.fetch_n, r.retain) for r in rounds]
        send = asyncio.ensure_future(send_group(conn, self.st, self.worker, plans, suspects))
        try:
            # Let the round go out first, then take in the jobs of the last one while the
            # server works on it: that client work is off the round-trip path.
            if any(lane.leased for lane in group):
                try:
                    await asyncio.sleep(0)
                finally:
                    self._take_in_all(group)
            return await send
        except BaseException:
            if not send.done():
                send.cancel()
            raise

    def _take_in_all(self, group: list[PgLane]) -> bool:
        leased = [lane for lane in group if lane.leased]
        for lane in leased:
            self._take_in(lane)
        return bool(leased)

    def _fetches(self, lane: PgLane, now: float) -> bool:
        """Should this lane take part in a round with nothing to record?"""
        lane.want = self._want(lane, 0)
        if self._retention_owed(lane, now):
            return True
        return bool(lane.want) and self._should_fetch(lane, now)

    def _after_round(self, r: LaneRound, now: float, rows: list[tuple[Any, ...]]) -> bool:
        """Take the round's result in; True when the lane should learn its next due time (a
        short fetch when idle, or a NOTIFY that brought nothing ready: a delayed add)."""
        lane, plan, fetch_n = r.lane, r.plan, r.fetch_n
        for i, applied in enumerate(plan.retain_groups):
            if applied:
                lane.last_retain[i] = now
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
        idle = lane.held == len(plan.batch) + len(rows)
        return bool(fetch_n and lane.empty and not rows and (idle or r.notified))

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
        if lane.paused:  # paused while the round was in flight: they have not started
            back += start
            start = []
        if back:
            lane.give_back(back)
        if start:
            lane.offer(start, counted=True)

    def _unreadable(self, lane: PgLane, row: tuple[Any, ...], report: Any, exc: Exception) -> None:
        job_id, _, retry_count, retry_limit = row[:4]
        delivery = Delivery(lane.name, job_id, None, retry_count + 1, retry_limit + 1, None, report)
        error = ErrorInfo(
            "InvalidJobData",
            f"the job's data or backoff cannot be read: {type(exc).__name__}",
        )
        lane.finished.append((PgJob(delivery, row), Failed(error, lane.settings.dead_letter)))
        lane.wake.set()

    async def idle(self, group: list[PgLane], wake: asyncio.Event) -> None:
        timeout: float | None = None
        now = time.monotonic()
        for lane in group:
            for owed, last in zip(lane.retain_owed, lane.last_retain, strict=True):
                if owed:
                    t = max(0.0, last + RETAIN_EVERY - now)
                    timeout = t if timeout is None else min(timeout, t)
            if not lane.want:
                continue
            t = max(0.0, lane.poll - (now - lane.last_fetch))
            if lane.due is not None:
                t = min(t, max(0.0, lane.due - now))
            timeout = t if timeout is None else min(timeout, t)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    async def _learn_due(self, lanes: list[PgLane], conn: psycopg.AsyncConnection[Any]) -> None:
        cur = await conn.execute(self.st.next_due, ([lane.name for lane in lanes],))
        now = time.monotonic()
        for queue, seconds in await cur.fetchall():
            if seconds is not None:
                self.lanes[queue].due = now + max(0.0, float(seconds))

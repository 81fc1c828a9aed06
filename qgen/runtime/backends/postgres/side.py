"""The side work of the PostgreSQL consumer, on the process's shared connection: lease
renewals (heartbeats, which also answer the jobs an operator asked to cancel), recovery of
expired or missing leases for every queue of the process in one statement, the queues' paused
states, whether any client waits for results (so finished jobs are notified), and the
operators' pushes (pause, resume, cancel) that the listener hears."""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg

from qgen.runtime.backends.postgres.jobs import PgJob
from qgen.runtime.backends.postgres.lanes import PgLane
from qgen.runtime.backends.postgres.sql import CANCEL, PAUSED, RESUMED, Statements
from qgen.runtime.backends.postgres.transport import SharedConnection
from qgen.runtime.cancel import cancel_safe

log = logging.getLogger("qgen.postgres")


class SideWork:
    """Mixed into :class:`.consumer.PostgresNative`, whose state it reads."""

    side: SharedConnection
    st: Statements
    worker: str
    lanes: dict[str, PgLane]
    waiters: bool
    _next_recover: float

    def _on_notify(self, channel: str, payload: str) -> None: ...  # the native's

    def renew_every(self, lane: PgLane) -> float:
        return max(0.2, lane.settings.visibility_timeout / 3)

    recover_every = renew_every

    async def renew(self, lane: PgLane, jobs: list[PgJob]) -> list[str]:
        """Extend the leases; returns the ids an operator asked to cancel."""
        ids = [job.id for job in jobs]
        stalled = [job.stalled for job in jobs]
        vt = lane.settings.visibility_timeout
        rows = await self.side.execute(
            self.st.heartbeat, (vt, ids, stalled, lane.name, self.worker)
        )
        return [job_id for job_id, cancel in rows if cancel]

    async def sync_paused(self) -> None:
        """Every lane's paused state from the server (at start, after the listener reconnects
        and with every recovery: a pause or resume whose NOTIFY was missed)."""
        names = list(self.lanes)
        rows = await self.side.execute(self.st.paused_of, (names,))
        paused = {name for name, flag in rows if flag}
        for name, lane in self.lanes.items():
            if lane.paused != (name in paused):
                _set_paused(lane, name in paused)

    async def recover(self, lane: PgLane) -> None:
        """Recover every queue of the process in one statement, at the shortest lane period
        (the skeleton calls this per lane; the calls between two recoveries do nothing)."""
        now = time.monotonic()
        if now < self._next_recover:
            return
        lanes = list(self.lanes.values())
        self._next_recover = now + min(self.recover_every(one) for one in lanes)
        queues = [one.name for one in lanes]
        limits = [one.settings.max_stalled_count for one in lanes]
        await self.sync_paused()
        rows = await self.side.execute(self.st.recover, (queues, limits))
        for queue, job_id, state, _ in rows:
            log.warning(
                "queue %s job %s: lease expired or missing; now %s",
                queue,
                job_id,
                state,
                extra={"queue": queue, "job_id": job_id},
            )
        for queue in {row[0] for row in rows}:
            self._on_notify("", queue)

    async def _check_waiters(self) -> None:
        """Workers notify finished jobs only while some client waits for results."""
        every = min(1.0, min((self.renew_every(lane) for lane in self.lanes.values()), default=1.0))
        while True:
            try:
                query = self.side.execute(self.st.waiters, (self.st.waiter_app,))
                rows = await cancel_safe(query)  # close() cancels this loop: no lost cancel
                self.waiters = bool(rows and rows[0][0])
            except psycopg.Error:
                log.exception("checking for waiting clients failed")
                self.waiters = True
            await asyncio.sleep(every)

    def _operator_notify(self, payload: str) -> bool:
        """A pause, resume or cancel pushed by an operator (``PAUSED + queue``, ...)."""
        for prefix, paused in ((PAUSED, True), (RESUMED, False)):
            if payload.startswith(prefix):
                lane = self.lanes.get(payload[len(prefix) :])
                if lane is not None:
                    _set_paused(lane, paused)
                return True
        if payload.startswith(CANCEL):
            queue, _, job_id = payload[len(CANCEL) :].partition("\n")
            lane = self.lanes.get(queue)
            if lane is not None:
                lane.request_cancel([job_id])
            return True
        return False


def _set_paused(lane: PgLane, paused: bool) -> None:
    if not paused:
        lane.notified = True  # jobs may have waited all along: look at once
    lane.set_paused(paused)

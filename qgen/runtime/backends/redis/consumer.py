"""The Redis half of the consumer: BullMQ's worker protocol, one round per pipeline.

Each queue has ``batch_size`` lock tokens, one per slot (the Lua ``moveToFinished`` locks the job
it fetches next with the finishing job's token, so a token travels from a job to the next). Per
round the loop sends, as ONE pipeline of raw ``EVALSHA`` calls, the finishing call of every job
that ended since the last round, each fetching that token's next job in the same call (BullMQ's
fetchNext, which the stock Python worker never uses), plus a ``moveToActive`` for each free
token. Everything else is BullMQ's own protocol and data: locks renewed with ``extendLocks``,
stalled jobs recovered with ``moveStalledJobsToWait``, idle waiting on the queues' markers with
``BZPOPMIN`` (one connection for all the consumer's queues: :mod:`.markers`), a timer for the
next delayed job, events written by the scripts. Operators' cancel requests of running jobs
come through the process's event reader (:mod:`.events`), which follows each queue's
cancel-request stream, and are read again with every lock extension. Every other call goes
through the process's shared pool (:mod:`.pool`). How each outcome is stored:
:mod:`.outcomes`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import Delivery, ErrorInfo, Failed
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.backends.redis import pool
from qgen.runtime.backends.redis.jobs import (
    TELEMETRY_FIELD,
    Catalog,
    RedisJob,
    attempts_made,
    job_data,
    pairs,
)
from qgen.runtime.backends.redis.markers import MarkerWait
from qgen.runtime.backends.redis.outcomes import Outcomes, ProgressReport
from qgen.runtime.backends.redis.scripts import Call, pack
from qgen.runtime.backends.redis.transport import TRANSIENT, Batcher, ScriptError, Scripts
from qgen.runtime.backends.redis.url import RedisTarget
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.redis")


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisLane(Lane[RedisJob]):
    def __init__(self, settings: QueueSettings, wake: asyncio.Event, catalog: Catalog) -> None:
        super().__init__(settings, wake)
        self.keys = catalog.keys(settings.name)
        self.marker = self.keys.marker
        self.drain_delay = settings.drain_delay
        self.outcomes = Outcomes(catalog, settings)
        self.lock_ms = settings.lock_duration
        self.stalled_ms = max(self.lock_ms, 1000)
        worker_id = uuid.uuid4().hex
        self.free = [f"{worker_id}:{i}" for i in range(max(1, settings.batch_size))]
        self.fetch_opts = {token: self._fetch_opts(token) for token in self.free}
        self.empty = False  # the last fetch found nothing: wait for the marker
        self.gen = 0  # bumped on every wake-up; a fetch that saw it change is tried again
        self.any_idle = asyncio.Event()  # set: the marker wait includes this lane
        self.timer: asyncio.TimerHandle | None = None  # wakes the lane for the next delayed job
        self.timer_due = 0.0

    def cancel_pushed(self, fields: dict[str, str]) -> None:
        """An entry of the queue's cancel-request stream (the event reader calls this)."""
        self.request_cancel([fields.get("jobId", "")])

    def _fetch_opts(self, token: str) -> bytes:
        opts: dict[str, Any] = {"token": token, "lockDuration": self.lock_ms, "limiter": None}
        if self.settings.worker_name:
            opts["name"] = self.settings.worker_name
        return pack(opts)

    def wake_all(self) -> None:
        self.gen += 1
        self.empty = False
        self.any_idle.clear()
        self.wake.set()

    def wake_at(self, due_ms: float) -> None:
        """Wake the lane when the next delayed job is due (a fetch promotes it); a timer, so a
        blocked marker wait never has to be interrupted."""
        if self.timer is not None and self.timer_due <= due_ms:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_due = due_ms
        delay = max((due_ms - _now_ms()) / 1000, 0.0)
        self.timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self.timer = None
        self.wake_all()


class RedisNative:
    settles = False
    gather_yields = 1  # one more turn of the event loop lets the slots that finish too join

    scripts: Scripts
    batcher: Batcher  # calls made outside rounds: progress, locks
    markers: MarkerWait

    def __init__(self, target: RedisTarget, catalog: Catalog) -> None:
        self.target = target
        self.catalog = catalog
        self.shared: pool.Shared | None = None  # the process's pool, taken in open()
        self.lanes: list[RedisLane] = []
        self.control = Control()
        self._waiter: asyncio.Task[None] | None = None

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> RedisLane:
        lane = RedisLane(settings, wake, self.catalog)
        self.lanes.append(lane)
        return lane

    def groups(self, lanes: Sequence[RedisLane]) -> list[list[RedisLane]]:
        return [[lane] for lane in lanes]

    def transient(self, exc: BaseException) -> bool:
        return isinstance(exc, TRANSIENT)

    async def open(self, control: Control) -> None:
        self.control = control
        shared = self.shared = await pool.acquire(self.target)
        self.scripts = shared.scripts
        self.batcher = Batcher(shared.scripts)
        self.markers = MarkerWait(self.lanes, shared, self.target.prefix)
        await self.scripts.load()
        for lane in self.lanes:  # same hash tag as every key of the prefix: one XREAD
            await shared.events.watch(lane.keys.cancel_requests, lane.cancel_pushed)
        for lane in self.lanes:
            log.info(
                "consuming %s (concurrency %d, lock %d ms)",
                lane.name,
                len(lane.free),
                lane.lock_ms,
                extra={"queue": lane.name},
            )
        self._waiter = asyncio.create_task(self.markers.run(control), name="qgen-redis-wait")

    async def close(self) -> None:
        for lane in self.lanes:
            if lane.timer is not None:
                lane.timer.cancel()
        if self._waiter is not None:
            self._waiter.cancel()
            await asyncio.gather(self._waiter, return_exceptions=True)
        shared, self.shared = self.shared, None
        if shared is not None:
            for lane in self.lanes:
                shared.events.unwatch(lane.keys.cancel_requests, lane.cancel_pushed)
            await self.batcher.close()
            await self.markers.close()
            await pool.release(shared)

    # -- rounds ------------------------------------------------------------------------------

    async def exchange(self, group: list[RedisLane], done: list[list[Done[RedisJob]]]) -> bool:
        lane, batch = group[0], done[0]
        stopping = self.control.stopping
        calls: list[Call] = []
        ends: list[tuple[RedisJob, int]] = []  # each job's finishing call, by index
        for job, outcome in batch:
            if outcome is None:  # stop: back to wait, not failed
                back = [job.id, job.token, lane.keys.job(job.id)]
                calls.append(("moveJobFromActiveToWait", lane.keys.move_active_to_wait(), back))
            else:
                fetch_opts = lane.fetch_opts[job.token]
                d = job.delivery
                calls += lane.outcomes.calls(d, job.opts, outcome, job.token, fetch_opts, stopping)
            ends.append((job, len(calls) - 1))
        fetching = [] if stopping or lane.empty else list(lane.free)
        lane.free = [] if fetching else lane.free
        for token in fetching:
            fetch: list[Any] = [lane.keys.base, _now_ms(), lane.fetch_opts[token]]
            calls.append(("moveToActive", lane.keys.active_keys, fetch))
        if not calls:
            return False
        gen = lane.gen
        try:
            replies = await self.scripts.pipeline(calls)
        except BaseException:
            lane.free += fetching
            raise
        jobs = self._finished(lane, batch, ends, replies)
        empty = False
        for token, reply in zip(fetching, replies[len(calls) - len(fetching) :], strict=True):
            got = self._fetched(lane, reply, token, "fetch")
            if got is None:
                lane.free.append(token)
                empty = True
            else:
                jobs.append(got)
        if empty and gen == lane.gen and not stopping:
            lane.empty = True
            lane.any_idle.set()
            self.markers.idle(lane)
        if jobs:
            self._take_in(lane, jobs)
        return True

    def _take_in(self, lane: RedisLane, jobs: list[RedisJob]) -> None:
        """Start the fetched jobs; one BullMQ marked as stalled too often fails unrun, one an
        operator asked to cancel while it was active (it came back since) ends cancelled."""
        doomed = [job for job in jobs if job.deferred_failure or job.cancel_reason]
        if doomed:
            jobs = [job for job in jobs if not (job.deferred_failure or job.cancel_reason)]
            for job in doomed:
                cancelled = job.cancelled()
                if cancelled is not None:
                    lane.finished.append((job, cancelled))
                    continue
                error = ErrorInfo("JobStalled", str(job.deferred_failure))
                lane.finished.append((job, Failed(error, lane.settings.dead_letter)))
            lane.held += len(doomed)
            lane.wake.set()
        lane.offer(jobs)

    def _finished(
        self,
        lane: RedisLane,
        batch: list[Done[RedisJob]],
        ends: list[tuple[RedisJob, int]],
        replies: list[Any],
    ) -> list[RedisJob]:
        """The next jobs the finishing calls fetched; their tokens freed where none came."""
        jobs: list[RedisJob] = []
        start = 0
        for (job, outcome), (_, end) in zip(batch, ends, strict=True):
            extra = {"queue": lane.name, "job_id": job.id}
            for reply in replies[start:end]:  # the dead-letter copy
                if isinstance(reply, Exception):
                    log.error("dead-letter copy of job %s failed: %s", job.id, reply, extra=extra)
            start = end + 1
            reply = replies[end]
            if outcome is None:
                if isinstance(reply, Exception):
                    log.warning("could not give job %s back: %s", job.id, reply, extra=extra)
                else:
                    log.info("gave job back", extra=extra)
                lane.free.append(job.token)
                continue
            nxt = self._fetched(lane, reply, job.token, job.id)
            if nxt is None:
                lane.free.append(job.token)
            else:
                jobs.append(nxt)
        return jobs

    def _fetched(self, lane: RedisLane, reply: Any, token: str, what: str) -> RedisJob | None:
        """The job a script call locked for ``token``, if any (delayed and rate-limited replies
        arm the lane's timer)."""
        if isinstance(reply, Exception) or (isinstance(reply, int) and reply < 0):
            err = reply if isinstance(reply, Exception) else ScriptError(what, reply)
            log.warning("%s on %s: %s; another worker may run it again", what, lane.name, err)
            lane.wake_at(_now_ms() + 1000)  # a broken queue: try again in a second
            return None
        if not isinstance(reply, list) or not reply:
            return None
        raw = reply[0]
        if isinstance(raw, list) and raw:
            return self._job(lane, str(reply[1]), pairs(raw), token)
        limit_ms = int(reply[2] or 0) if len(reply) > 2 else 0
        delay_until = float(reply[3] or 0) if len(reply) > 3 else 0.0
        if limit_ms > 0:
            delay_until = _now_ms() + limit_ms
        if delay_until > 0:
            lane.wake_at(delay_until)
        return None

    def _job(self, lane: RedisLane, job_id: str, fields: dict[str, Any], token: str) -> RedisJob:
        opts, attempts, backoff = lane.outcomes.options(fields.get("opts"))
        delivery = Delivery(
            queue=lane.name,
            job_id=job_id,
            data=job_data(fields),
            attempt=attempts_made(fields) + 1,
            max_attempts=attempts,
            backoff=backoff,
            report_progress=ProgressReport(self.batcher, lane.keys, job_id).report,
            meta=jobmeta.decode(opts[TELEMETRY_FIELD]) if TELEMETRY_FIELD in opts else None,
        )
        cancel = fields.get(RedisJob.cancel_field)
        return RedisJob(delivery, token, opts, fields.get("defa"), cancel)

    async def idle(self, group: list[RedisLane], wake: asyncio.Event) -> None:
        await wake.wait()  # the marker waiter, the delayed-job timer or a finished job

    # -- locks and stalled jobs --------------------------------------------------------------

    def renew_every(self, lane: RedisLane) -> float:
        return max(lane.lock_ms / 2000, 0.05)

    async def renew(self, lane: RedisLane, jobs: list[RedisJob]) -> list[str]:
        """Extends the locks and, in the same pipeline, returns the ids an operator asked to
        cancel (their ``qgcr`` field: ``ops_lua``)."""
        ids, tokens = [job.id for job in jobs], [job.token for job in jobs]
        call: Call = (
            "extendLocks",
            [lane.keys.stalled],
            [lane.keys.base, pack(tokens), pack(ids), lane.lock_ms],
        )
        asked: Call = ("qgenAskedToCancel", [lane.keys.job(i) for i in ids], ids)
        replies: tuple[Any, ...] = await asyncio.gather(
            self.batcher.submit(call), self.batcher.submit(asked), return_exceptions=True
        )
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        lost, cancel = replies
        held = {job.id for job in lane.held_jobs()}
        for job_id in lost or ():
            if job_id in held:
                log.warning(
                    "lost the lock of job %s", job_id, extra={"queue": lane.name, "job_id": job_id}
                )
        return [str(job_id) for job_id in cancel or ()]

    def recover_every(self, lane: RedisLane) -> float:
        return lane.stalled_ms / 1000

    async def recover(self, lane: RedisLane) -> None:
        call: Call = (
            "moveStalledJobsToWait",
            lane.keys.move_stalled(),
            [lane.settings.max_stalled_count, lane.keys.base, _now_ms(), lane.stalled_ms],
        )
        stalled = await self.batcher.run(call)
        for job_id in stalled or ():
            log.warning(
                "recovered stalled job %s", job_id, extra={"queue": lane.name, "job_id": job_id}
            )
        if stalled:
            lane.wake_all()

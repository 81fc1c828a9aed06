"""The consumer skeleton every backend runs: slots, loops, heartbeats, the drain, giving back.

A backend's consumer is this skeleton plus a *native* part (``<backend>/consumer.py``, the
protocols in :mod:`.native`; lanes and jobs in :mod:`.lanes`) that talks to the server. The
skeleton owns what is the same everywhere:

- **lanes**: one per queue, with ``batch_size`` long-lived slots that run jobs through the
  handler, and a ready buffer of jobs leased ahead of a free slot (prefetch);
- **loops**: each serves a group of lanes (the native picks the groups) and calls the native's
  ``exchange`` whenever jobs finished or more may be fetched; the native records the finished
  batch and leases the next in as few round trips as it can, and offers the leased jobs to
  their lane (:meth:`Lane.offer`); with nothing to do the loop waits in the native's ``idle``;
- **heartbeats**: per lane, ``renew`` of every held job and ``recover`` of jobs whose lease ran
  out (dead workers), each at the native's period; ``renew`` answers the ids an operator asked
  to cancel, handed to :meth:`Lane.request_cancel` (the runner then cancels the job's task);
  a lane's ``renew_soon`` (a pushed cancel may concern a job just taken in, or pushes were
  missed) makes the next renewal happen at once;
- **pause**: before a round, each lane with a ``pause_probe`` learns its paused state, at most
  once per ``pause_every`` seconds (natives that see it inside their fetch skip the probe); a
  paused lane is offered nothing and gives back what it leased ahead;
- **stop**: no more fetching; jobs leased but never started are given back at once; running
  jobs get the grace period, then their slots are cancelled and the jobs given back; the loops
  record everything still pending and end (giving up 10 s after the grace period if the server
  stays unreachable: those jobs come back after their lease);
- **what escapes the handler** (the runner returns outcomes and never raises for a job's own
  errors): a ``CancelledError`` raised by the job itself (it cancelled and awaited an inner
  task) or any other exception fails that attempt, retried with the queue's backoff while
  attempts remain. Only the consumer's own cancellation gives a job back.

Natives that apply outcomes one job at a time (SQS: a FIFO group runs in order only if each
message was deleted) set ``settles``: their slots call ``run`` and ``settle`` instead of
appending to the lane's finished list.

Hot path: a slot takes its next job from the ready buffer without awaiting when there is one,
hands the outcome over with a list append and an event set, and waits on one future when idle;
no task, lock or dict operation per job. A job that stalled before (``suspect``) never runs
beside another such job in this process (quarantine), so a job that kills its worker fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, Generic

from qgen.runtime.backends.base import Delivery, ErrorInfo, Failed, Handler, Outcome, Retry
from qgen.runtime.backends.lanes import Backoff, Control, Done, J, Lane, Slot
from qgen.runtime.backends.native import L, Native, Settling
from qgen.runtime.cancel import cancel_safe, raise_if_cancelled
from qgen.runtime.retry import backoff_delay
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.consumer")

ABANDON_AFTER = 10.0  # s past the grace period: stop retrying a failing final round
_MOVING_AVERAGE = 0.1  # weight of the newest run time in Lane.avg_run


class ConsumerSkeleton(Generic[L]):
    """The :class:`qgen.runtime.backends.base.Consumer` of every backend."""

    def __init__(self, native: Native[L], queues: Sequence[QueueSettings], handle: Handler) -> None:
        self.native = native
        self.settling: Settling[L] | None = native if native.settles else None  # type: ignore[assignment]
        self.handle = handle
        self.control = Control()
        self.lanes: list[L] = []
        for settings in queues:
            lane = native.lane(settings, asyncio.Event())
            lane._take = self.take
            if self.settling is not None:
                lane._give_back_now = self.settling.give_back
            self.lanes.append(lane)
        self.groups = native.groups(self.lanes)
        for group in self.groups:  # a loop's lanes share one event
            for lane in group:
                lane.wake = group[0].wake
        self._started = False
        self._finished = asyncio.Event()

    # -- life cycle --------------------------------------------------------------------------

    async def run(self) -> None:
        self._started = True
        tasks: list[asyncio.Task[None]] = []
        try:
            await self.native.open(self.control)
            for lane in self.lanes:
                for i in range(max(1, lane.settings.batch_size)):
                    slot = Slot()
                    lane._slots.append(slot)
                    slot.task = asyncio.create_task(
                        self._slot(lane, slot), name=f"qgen-slot-{lane.name}-{i}"
                    )
                tasks.append(asyncio.create_task(self._heartbeat(lane)))
            await asyncio.gather(*(self._loop(group) for group in self.groups))
        finally:
            tasks += [s.task for lane in self.lanes for s in lane._slots if s.task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self.native.close()
            finally:
                self._finished.set()

    async def stop(self, grace: float) -> None:
        control = self.control
        control.stopping = True
        control.deadline = time.monotonic() + max(0.0, grace)
        control.stopped.set()
        for lane in self.lanes:
            lane.stopping = True
            jobs = list(lane.ready)
            lane.ready.clear()
            lane.give_back(jobs)  # leased ahead, never started
            while lane._idle:
                fut = lane._idle.popleft()
                if not fut.done():
                    fut.set_result(None)
            lane.wake.set()
        if not self._started:
            return
        busy = [s.task for lane in self.lanes for s in lane._slots if s.task and s.job]
        if busy:
            _, late = await asyncio.wait(busy, timeout=max(0.0, grace))
            for task in late:
                task.cancel()  # the slot gives its job back
            if late:
                log.warning(
                    "%d job(s) still running after %g s grace; given back", len(late), grace
                )
                await asyncio.gather(*late, return_exceptions=True)
        for lane in self.lanes:
            lane.wake.set()
        await self._finished.wait()

    # -- slots -------------------------------------------------------------------------------

    def take(self, lane: Lane[J]) -> J | None:
        """The next ready job a slot may start (quarantine: one suspect job at a time)."""
        ready = lane.ready
        job = ready.popleft()
        if not job.suspect:
            return job
        control = self.control
        if control.suspect is None:
            control.suspect = job
            return job
        ready.appendleft(job)
        for other in ready:
            if not other.suspect:
                ready.remove(other)
                return other
        return None

    def _suspect_done(self) -> None:
        self.control.suspect = None
        for lane in self.lanes:
            if lane.ready and lane._idle:
                lane._dispatch()

    async def _next(self, lane: Lane[J]) -> J | None:
        """Wait for a job (None: stopping)."""
        if self.control.stopping:
            return None
        fut: asyncio.Future[J | None] = asyncio.get_running_loop().create_future()
        lane._idle.append(fut)
        return await fut

    async def _slot(self, lane: L, slot: Slot) -> None:
        if self.settling is not None:
            await self._settling_slot(self.settling, lane, slot)
            return
        handle = self.handle
        control = self.control
        ready = lane.ready
        finished = lane.finished
        task = asyncio.current_task()
        assert task is not None
        while True:
            job = self.take(lane) if ready and not control.stopping else None
            if job is None:
                job = await self._next(lane)
                if job is None:
                    return
            slot.job = job
            started = time.monotonic() if lane.timed else 0.0
            try:
                outcome = await handle(job.delivery)
            except asyncio.CancelledError as exc:
                if task.cancelling():  # the consumer stops: give the job back
                    slot.job = None
                    finished.append((job, None))
                    lane.wake.set()
                    raise
                outcome = self._escaped(lane, job.delivery, exc)
            except Exception as exc:
                outcome = self._escaped(lane, job.delivery, exc)
            else:
                if started:
                    lane.avg_run += (time.monotonic() - started - lane.avg_run) * _MOVING_AVERAGE
            slot.job = None
            finished.append((job, outcome))
            lane.wake.set()
            if job.suspect:
                self._suspect_done()
            if control.stopping and task.cancelling():
                return  # cancelled after the grace period, yet the job finished

    async def _settling_slot(self, native: Settling[L], lane: L, slot: Slot) -> None:
        control = self.control
        task = asyncio.current_task()
        assert task is not None
        while True:
            job = self.take(lane) if lane.ready and not control.stopping else None
            if job is None:
                job = await self._next(lane)
                if job is None:
                    return
            if not lane.ready:
                lane.wake.set()  # the buffer ran dry: the loop may fetch again
            while job is not None:
                slot.job = job
                try:
                    outcome = await native.run(lane, job, self.handle)
                except asyncio.CancelledError as exc:
                    if task.cancelling():
                        slot.job = None
                        native.give_back(lane, [job])
                        lane.held -= 1
                        raise
                    outcome = self._escaped(lane, job.delivery, exc)
                except Exception as exc:
                    outcome = self._escaped(lane, job.delivery, exc)
                slot.job = None
                try:
                    current, job = job, await native.settle(lane, job, outcome)
                except asyncio.CancelledError:
                    lane.held -= 1  # cancelled while storing: the message comes back later
                    raise
                if current.suspect:
                    self._suspect_done()
            lane.held -= 1
            lane.wake.set()

    def _escaped(self, lane: Lane[Any], delivery: Delivery, exc: BaseException) -> Outcome:
        """An exception the handler let through: a failed attempt of that job."""
        name = type(exc).__name__
        if isinstance(exc, asyncio.CancelledError):
            message = "the job raised CancelledError without being cancelled by the worker"
        else:
            message = str(exc)
        log.warning(
            "attempt %d/%d: %s escaped the job: %s",
            delivery.attempt,
            delivery.max_attempts,
            name,
            message,
            extra={"queue": delivery.queue, "job_id": delivery.job_id},
        )
        error = ErrorInfo(name, message, "".join(traceback.format_exception(exc)))
        if delivery.attempt < delivery.max_attempts:
            backoff = delivery.backoff if delivery.backoff is not None else lane.settings.backoff
            return Retry(error, backoff_delay(backoff, delivery.attempt))
        return Failed(error, lane.settings.dead_letter)

    # -- loops -------------------------------------------------------------------------------

    async def _loop(self, group: list[L]) -> None:
        native, control = self.native, self.control
        wake = group[0].wake
        backoff = Backoff()
        yields = native.gather_yields
        while True:
            for _ in range(yields):  # let the jobs that can finish now join this round
                waiting = sum(len(lane.finished) for lane in group)
                await asyncio.sleep(0)
                if sum(len(lane.finished) for lane in group) == waiting:
                    break
            wake.clear()
            # once a round, no await: a call of the last round (exchange, idle) may have lost
            # the cancel (docs/decisions.md, "Background loops stop when cancelled")
            raise_if_cancelled()
            if control.stopping and not any(lane.held for lane in group):
                return
            await self._check_paused(group)
            done: list[list[Done[Any]]] = []
            for lane in group:  # slots keep appending to the same finished list
                lane.recording = lane.finished.copy()
                lane.finished.clear()
                done.append(lane.recording)
            try:
                progressed = await native.exchange(group, done)
            except Exception as exc:
                for lane in group:
                    lane.finished[:0] = lane.recording
                    lane.recording = []
                raise_if_cancelled()  # the cancel turned into this error: stop, not retry
                if control.stopping and time.monotonic() > control.deadline + ABANDON_AFTER:
                    held = sum(lane.held for lane in group)
                    log.error("giving up %d job(s) at stop: %s; they come back later", held, exc)
                    return
                delay = backoff.next()
                self._round_failed(group, exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            for lane in group:
                lane.held -= len(lane.recording)
                lane.recording = []
            if not progressed:
                raise_if_cancelled()  # before a wait: the exchange may have swallowed it
                await native.idle(group, wake)

    async def _check_paused(self, group: list[L]) -> None:
        """Ask the lanes' pause probes, each at most once per its ``pause_every``; a failing
        probe keeps the last known state (logged)."""
        now = time.monotonic()
        for lane in group:
            probe = lane.pause_probe
            if probe is None or now < lane.pause_checked + lane.pause_every:
                continue
            lane.pause_checked = now
            with _logged(f"queue {lane.name}: reading the paused state failed"):
                lane.set_paused(await cancel_safe(probe()))

    def _round_failed(self, group: list[L], exc: Exception, delay: float) -> None:
        names = ", ".join(lane.name for lane in group)
        if self.native.transient(exc):
            log.warning("queue %s: connection lost (%s); retrying in %.2f s", names, exc, delay)
        else:
            log.error("queue %s: round failed; retrying in %.2f s", names, delay, exc_info=exc)

    # -- heartbeats --------------------------------------------------------------------------

    async def _heartbeat(self, lane: L) -> None:
        native = self.native
        renew_every = native.renew_every(lane)
        recover_every = native.recover_every(lane)
        now = time.monotonic()
        next_renew = now + renew_every
        next_recover = now if recover_every is not None else float("inf")
        while True:
            if time.monotonic() >= next_recover:
                with _logged(f"queue {lane.name}: recovering expired leases failed"):
                    await cancel_safe(native.recover(lane))
                next_recover = time.monotonic() + (recover_every or 0.0)
            if time.monotonic() >= next_renew:
                jobs = lane.held_jobs()
                if jobs:
                    with _logged(f"queue {lane.name}: heartbeat failed"):
                        cancel = await cancel_safe(native.renew(lane, jobs))
                        if cancel:
                            lane.request_cancel(cancel)
                next_renew = time.monotonic() + renew_every
            wait = max(0.0, min(next_renew, next_recover) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lane.renew_soon.wait(), wait)
            if lane.renew_soon.is_set():  # a cancel may be pending for a job just taken in
                lane.renew_soon.clear()
                next_renew = time.monotonic()


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        log.warning("%s: %s", what, exc)

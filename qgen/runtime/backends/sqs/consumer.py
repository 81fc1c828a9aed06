"""The SQS half of the consumer: long polls, a prefetch buffer, heartbeats, batched acks.

Per queue, one loop receives up to ``prefetch`` (at most 10) messages per long poll
(WaitTimeSeconds = ``drain_delay``, at most 20; 0 means short polls, 1 s apart when empty) with
VisibilityTimeout = ``visibility_timeout``, and receives again as soon as the last message of the
previous receive has started, so at most ``batch_size + prefetch`` messages are held; the held
but not yet started ones are the prefetch buffer that keeps slots busy while the next poll is in
flight. Each outcome is stored as its job ends (this native *settles*; see :mod:`.outcomes`):
deletes and visibility changes go out in batches, each flushed when full or after a short
linger. At steady load with prefetch 10 that is about 0.1 receive + 0.1 delete calls per job.
Held messages whose visibility would end soon are extended in one ChangeMessageVisibilityBatch
(the heartbeat).

FIFO queues: the messages of one group that come in one receive run one after the other in one
slot, in SQS's order; when one is not finished (a retry), the rest of its group is given back,
so SQS delivers the group again from that message on.

Pause (issue 14): each lane reads the queue's paused tag (:mod:`.pause`) through the
skeleton's ``pause_probe``, at most once per ``poll_interval`` and per ``pause_check`` (an
``sqs://`` URL parameter, default 10 s; slower when AWS throttles the reads); a paused lane
receives nothing, and what it had received but not started goes back (visibility 0). A long
poll that ends with messages reads the tag again first (within the same period), so a poll
that was already waiting when the queue was paused gives back what it brings.

Visibility never ends later than SQS allows (12 h after the receive, see
``jobs.Received.visibility_left``): heartbeats and retry backoffs are capped to it.

Stopping: no new receives (a long poll in flight is waited for until the grace period ends, and
what it brings is given back); buffered messages are given back at once (visibility 0). A
message given back counts as a receive for SQS, so it uses one of its attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Sequence

from qgen.runtime.backends.base import Handler, Outcome
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.backends.sqs import outcomes
from qgen.runtime.backends.sqs.jobs import Received, SqsJob, job_outcome, units
from qgen.runtime.backends.sqs.pause import (
    SLOWEST,
    is_access_denied,
    is_throttled,
    read_paused,
)
from qgen.runtime.backends.sqs.transport import SqsCalls, is_missing_queue
from qgen.runtime.backends.sqs.url import SQS_MAX_BATCH, SQS_MAX_VISIBILITY_S, is_fifo
from qgen.runtime.cancel import cancel_safe, raise_if_cancelled
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.sqs")

_SHORT_POLL_PAUSE_S = 1.0
_SYSTEM_ATTRIBUTES: list[str] = ["ApproximateReceiveCount", "MessageGroupId"]


class SqsLane(Lane[SqsJob]):
    def __init__(self, settings: QueueSettings, wake: asyncio.Event, calls: SqsCalls) -> None:
        super().__init__(settings, wake)
        vis = math.ceil(settings.visibility_timeout)
        self.vis = max(1, min(SQS_MAX_VISIBILITY_S, vis))
        self.wait = max(0, min(calls.url.wait_seconds_max, int(settings.drain_delay)))
        self.batch = max(1, min(SQS_MAX_BATCH, settings.prefetch))
        self.held_msgs: dict[str, SqsJob] = {}  # by receipt handle: running or buffered
        self.acks = outcomes.Acks(calls, settings.name)
        self.errors = 0
        self.pause = False  # the last short poll found nothing: wait a second
        self.pause_every = self.pause_base = max(self.pause_every, calls.url.pause_check_s)
        self.pause_denied = False  # ListQueueTags refused: said once, then run unpaused
        self.pause_errors = 0  # consecutive failures to read the paused tag
        self.overdue: set[str] = set()  # receipts held past the 12 h SQS allows (said once)


class SqsNative:
    settles = True
    gather_yields = 0

    def __init__(self, calls: SqsCalls) -> None:
        self.calls = calls
        self.lanes: list[SqsLane] = []
        self.control = Control()

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> SqsLane:
        lane = SqsLane(settings, wake, self.calls)
        lane.pause_probe = functools.partial(self._read_paused, lane)
        self.lanes.append(lane)
        return lane

    async def _read_paused(self, lane: SqsLane) -> bool:
        """The queue's paused tag; on failure the last known state (the receive that follows
        reports an unreachable server or a missing queue: this logs once per 60 failures)."""
        try:
            # cancel_safe: a cancel boto3's side turned into an error is not "keep the last state"
            paused = await cancel_safe(read_paused(self.calls, lane.name))
        except Exception as exc:
            lane.pause_errors += 1
            if is_throttled(exc):
                self._slow_down(lane, exc)
                return lane.paused
            if not is_access_denied(exc):
                if lane.pause_errors % 60 == 1:
                    log.warning(
                        "queue %s: reading its paused tag failed (%s); keeping the last state",
                        lane.name,
                        exc,
                        extra={"queue": lane.name},
                    )
                return lane.paused
            if not lane.pause_denied:
                lane.pause_denied = True
                log.error(
                    "queue %s: reading its paused tag was refused (%s); the worker needs "
                    "sqs:ListQueueTags to honour pause(); running as not paused",
                    lane.name,
                    exc,
                    extra={"queue": lane.name},
                )
            return False
        lane.pause_errors = 0
        lane.pause_every = max(lane.pause_base, lane.pause_every * 0.9)  # back down slowly
        return paused

    def _slow_down(self, lane: SqsLane, exc: Exception) -> None:
        """AWS throttles tagging requests per account: read the tag less often."""
        slower = min(lane.pause_base * SLOWEST, lane.pause_every * 2)
        if slower > lane.pause_every:
            log.warning(
                "queue %s: reading its paused tag was throttled (%s); reading it every %.0f s "
                "(raise pause_check in the sqs:// URL when many workers share an account)",
                lane.name,
                exc,
                slower,
                extra={"queue": lane.name},
            )
        lane.pause_every = slower

    def groups(self, lanes: Sequence[SqsLane]) -> list[list[SqsLane]]:
        return [[lane] for lane in lanes]

    def transient(self, exc: BaseException) -> bool:
        return True  # receives handle their own errors; anything else is the server's

    async def open(self, control: Control) -> None:
        self.control = control
        for lane in self.lanes:
            s = lane.settings
            log.info(
                "%sconsuming SQS queue %s: %d at a time, receives of %d, visibility %d s, "
                "wait %d s",
                f"{s.worker_name}: " if s.worker_name else "",
                self.calls.url.sqs_name(lane.name),
                s.batch_size,
                lane.batch,
                lane.vis,
                lane.wait,
                extra={"queue": lane.name},
            )

    async def close(self) -> None:
        for lane in self.lanes:
            await lane.acks.close()

    # -- receiving ---------------------------------------------------------------------------

    async def exchange(self, group: list[SqsLane], done: list[list[Done[SqsJob]]]) -> bool:
        lane = group[0]
        lane.pause = False
        if self.control.stopping or lane.ready or lane.paused:
            return False  # the buffer first: receive again once its last message started
        started = time.monotonic()
        msgs = await self._receive_unless_stopped(lane, started)
        if not msgs:
            lane.pause = lane.wait == 0  # short polls: an empty queue is not hammered
            return not lane.pause
        deadline = started + lane.vis
        jobs = [SqsJob(msg, lane.settings, deadline) for msg in msgs]
        for job in jobs:
            lane.held_msgs[job.msg.receipt_handle] = job
        held = units(jobs, fifo=is_fifo(lane.name))
        if await self._paused_meanwhile(lane):
            lane.held += len(held)
            lane.give_back(held)
            return False
        lane.offer(held)
        return True

    async def _paused_meanwhile(self, lane: SqsLane) -> bool:
        """A long poll can outlast a pause: before starting what it brought, read the tag
        again if its period allows (the skeleton's next check then waits a period)."""
        now = time.monotonic()
        if lane.pause_probe is None or now < lane.pause_checked + lane.pause_every:
            return False
        lane.pause_checked = now
        lane.set_paused(await lane.pause_probe())
        return lane.paused

    async def _receive_unless_stopped(self, lane: SqsLane, started: float) -> list[Received]:
        control = self.control
        receive = asyncio.ensure_future(self._receive(lane, started))
        stopped = asyncio.ensure_future(control.stopped.wait())
        try:
            await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if receive.done():
                return receive.result()
            # stopping during a long poll: wait for it while the grace period lasts, give back
            # what it brings (offer() does, as the consumer is stopping)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(receive), control.time_left())
        except asyncio.CancelledError:
            receive.cancel()  # the loop is cancelled: leave no receive running behind it
            raise
        finally:
            stopped.cancel()
        if receive.done() and not receive.cancelled():
            return receive.result()
        return []

    async def _receive(self, lane: SqsLane, started: float) -> list[Received]:
        calls = self.calls
        try:
            url = await calls.queue_url(lane.name)
            reply = await calls.run(
                calls.client.receive_message,
                QueueUrl=url,
                MaxNumberOfMessages=lane.batch,
                WaitTimeSeconds=lane.wait,
                VisibilityTimeout=lane.vis,
                MessageSystemAttributeNames=_SYSTEM_ATTRIBUTES,
                MessageAttributeNames=["All"],
            )
        except Exception as exc:
            raise_if_cancelled()  # the cancel became boto3's error: not a failed receive
            await self._receive_failed(lane, exc)
            return []
        raise_if_cancelled()  # ... or was swallowed
        if lane.errors:
            log.info("SQS queue %s reachable again", lane.name, extra={"queue": lane.name})
        lane.errors = 0
        return [Received.from_boto(m, started) for m in reply.get("Messages", [])]

    async def _receive_failed(self, lane: SqsLane, exc: Exception) -> None:
        """Log, back off (0.5 s doubling to 10 s), and recreate a lost queue if allowed."""
        lane.errors += 1
        extra = {"queue": lane.name}
        if is_missing_queue(exc):
            self.calls.forget(lane.name)
            if self.calls.create is not None:
                log.warning("SQS queue %s is missing; creating it", lane.name, extra=extra)
                with contextlib.suppress(Exception):
                    await self.calls.create()
            else:
                log.error(
                    "SQS queue %s does not exist (run `qgen setup`): %s",
                    self.calls.url.sqs_name(lane.name),
                    exc,
                    extra=extra,
                )
        elif lane.errors == 1 or lane.errors % 20 == 0:
            log.warning("receive from SQS queue %s failed: %s", lane.name, exc, extra=extra)
        delay = min(10.0, 0.5 * 2 ** min(lane.errors - 1, 5))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.control.stopped.wait(), delay)

    async def idle(self, group: list[SqsLane], wake: asyncio.Event) -> None:
        lane = group[0]
        timeout = _SHORT_POLL_PAUSE_S if lane.pause else lane.pause_every if lane.paused else None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout)

    # -- outcomes, one job at a time ---------------------------------------------------------

    async def run(self, lane: SqsLane, job: SqsJob, handle: Handler) -> Outcome:
        return await job_outcome(job, handle)

    async def settle(self, lane: SqsLane, job: SqsJob, outcome: Outcome) -> SqsJob | None:
        """Store the outcome; the next message of the job's FIFO group runs only if this one
        is finished, else the rest of the group goes back (SQS redelivers it in order)."""
        lane.held_msgs.pop(job.msg.receipt_handle, None)
        lane.overdue.discard(job.msg.receipt_handle)
        finished = await outcomes.store(lane.acks, job.msg, outcome)
        rest, job.rest = job.rest, []
        if not rest:
            return None
        if finished and not self.control.stopping:
            nxt, nxt.rest = rest[0], rest[1:]
            return nxt
        self.give_back(lane, rest)
        return None

    def give_back(self, lane: SqsLane, jobs: Sequence[SqsJob]) -> None:
        for job in jobs:
            for each in (job, *job.rest):
                lane.held_msgs.pop(each.msg.receipt_handle, None)
                lane.overdue.discard(each.msg.receipt_handle)
                lane.acks.change(each.msg, 0)
            job.rest = []

    # -- heartbeats --------------------------------------------------------------------------

    def renew_every(self, lane: SqsLane) -> float:
        return lane.vis / 3

    async def renew(self, lane: SqsLane, jobs: list[SqsJob]) -> None:
        """Extend the visibility of held messages before it runs out (extend when less than
        2/3 of it is left), so long jobs are never received twice. SQS allows no visibility
        past 12 h after the receive: a job held that long is received again (logged once)."""
        now = time.monotonic()
        period = self.renew_every(lane)
        due = [job for job in lane.held_msgs.values() if job.deadline - now < 2 * period]
        extend: list[tuple[Received, int]] = []
        for job in due:
            visibility = min(lane.vis, job.msg.visibility_left(now))
            job.deadline = now + visibility
            if visibility > 0:
                extend.append((job.msg, visibility))
            if visibility < lane.vis:
                self._overdue(lane, job)
        if extend:
            await lane.acks.extend(extend)

    def _overdue(self, lane: SqsLane, job: SqsJob) -> None:
        if job.msg.receipt_handle in lane.overdue:
            return
        lane.overdue.add(job.msg.receipt_handle)
        log.warning(
            "job %s has been held for almost 12 h, the longest SQS hides a received message; "
            "SQS will deliver it again while it runs",
            job.msg.job_id,
            extra={"queue": lane.name, "job_id": job.msg.job_id},
        )

    def recover_every(self, lane: SqsLane) -> float | None:
        return None  # SQS makes a dead worker's messages visible again by itself

    async def recover(self, lane: SqsLane) -> None:
        return None

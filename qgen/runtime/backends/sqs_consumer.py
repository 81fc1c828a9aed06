"""The SQS worker loop: long polls, a prefetch buffer, heartbeats and batched acknowledgements.

Per queue, one poller receives up to ``prefetch`` (at most 10) messages per long poll
(WaitTimeSeconds = ``drain_delay``, at most 20; 0 means short polls, 1 s apart when empty)
with VisibilityTimeout = ``visibility_timeout``, and starts them as ``batch_size`` slots free
up. It polls again as soon as the last batch is started, so at most ``batch_size + prefetch``
messages are held; the held but not yet started ones are the prefetch buffer that keeps slots
busy while the next poll is in flight.

Held messages (running or buffered) whose visibility would end soon are extended in one
ChangeMessageVisibilityBatch (the heartbeat). Finished messages are deleted in batches of 10
(DeleteMessageBatch) and retries are set in batches (ChangeMessageVisibilityBatch to the
backoff delay), each batch flushed when full or after a short linger. At steady load with
prefetch 10 that is about 0.1 receive + 0.1 delete calls per job.

FIFO queues: the messages of one group that come in one receive run one after the other in one
slot, in SQS's order; when one is not finished (a retry), the rest of its group is given back,
so SQS delivers the group again from that message on.

Stopping: no new receives; buffered messages are given back at once (visibility 0), running
jobs get the grace period and are then cancelled and given back too. A message given back
counts as a receive for SQS, so it uses one of its attempts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qgen.runtime.backends.base import (
    Delivery,
    ErrorInfo,
    Failed,
    Handler,
    Outcome,
    QueueSettings,
    Retry,
)
from qgen.runtime.backends.sqs_acks import Acks
from qgen.runtime.backends.sqs_admin import DEFAULT_VISIBILITY_S
from qgen.runtime.backends.sqs_calls import is_missing_queue
from qgen.runtime.backends.sqs_messages import Received, retry_visibility
from qgen.runtime.backends.sqs_url import SQS_MAX_BATCH, SQS_MAX_VISIBILITY_S, is_fifo
from qgen.runtime.interaction import Progress

if TYPE_CHECKING:
    from qgen.runtime.backends.sqs import SqsBackend

log = logging.getLogger("qgen.sqs")

_SHORT_POLL_PAUSE_S = 1.0
_SYSTEM_ATTRIBUTES: Any = ["ApproximateReceiveCount", "MessageGroupId"]


async def _no_progress(value: Progress) -> None:
    """SQS stores nothing about a message in flight; progress is dropped (capabilities.py)."""


async def job_outcome(
    queue: str, config: Mapping[str, Any], msg: Received, handle: Handler
) -> Outcome:
    """Run one received message through ``handle`` (the runner), or fail it without running:
    a body that is not JSON, or a message received more often than its attempts (its earlier
    receives ended in dead workers; only without a redrive policy, which would have moved it)."""
    data, error = msg.data()
    max_attempts = msg.max_attempts(config)
    dead_letter = config.get("dead_letter")
    if error is not None:
        return Failed(error, dead_letter)
    if msg.receive_count > max_attempts:
        return Failed(
            ErrorInfo(
                "AttemptsExhausted",
                f"received {msg.receive_count} times, more than its {max_attempts} attempts",
            ),
            dead_letter,
        )
    delivery = Delivery(
        queue=queue,
        job_id=msg.job_id,
        data=data,
        attempt=msg.receive_count,
        max_attempts=max_attempts,
        backoff=msg.backoff(),
        report_progress=_no_progress,
    )
    return await handle(delivery)


def _units(msgs: list[Received], *, fifo: bool) -> list[list[Received]]:
    """What runs in one slot: each message alone, or on FIFO queues each message group's
    messages of this receive, in the order SQS gave them."""
    if not fifo:
        return [[m] for m in msgs]
    groups: dict[str | None, list[Received]] = {}
    for m in msgs:
        groups.setdefault(m.group, []).append(m)
    return list(groups.values())


@dataclass(slots=True)
class _Held:
    msg: Received
    deadline: float  # monotonic time the message's visibility runs out (conservative)


class SqsConsumer:
    def __init__(
        self, backend: SqsBackend, queues: Sequence[QueueSettings], handle: Handler
    ) -> None:
        self.backend = backend
        self.handle = handle
        self.pollers = [_Poller(self, s) for s in queues]
        self.stopping = asyncio.Event()
        self.stop_deadline = math.inf
        self._finished = asyncio.Event()
        self._started = False

    async def run(self) -> None:
        self._started = True
        try:
            await asyncio.gather(*(p.run() for p in self.pollers))
        finally:
            self._finished.set()

    async def stop(self, grace: float) -> None:
        self.stop_deadline = min(self.stop_deadline, time.monotonic() + max(0.0, grace))
        self.stopping.set()
        if self._started:
            await self._finished.wait()

    def time_left(self) -> float:
        return max(0.0, self.stop_deadline - time.monotonic())


class _Poller:
    def __init__(self, consumer: SqsConsumer, settings: QueueSettings) -> None:
        cfg = settings.config
        self.consumer = consumer
        self.backend = consumer.backend
        self.queue = settings.name
        self.config = cfg
        self.vis = max(
            1,
            min(
                SQS_MAX_VISIBILITY_S,
                math.ceil(float(cfg.get("visibility_timeout", DEFAULT_VISIBILITY_S))),
            ),
        )
        wait_max = self.backend.url.wait_seconds_max
        self.wait = max(0, min(wait_max, int(cfg.get("drain_delay", 5))))
        self.batch = max(1, min(SQS_MAX_BATCH, settings.prefetch))
        self.concurrency = max(1, settings.concurrency)
        self.slots = asyncio.Semaphore(self.concurrency)
        self.held: dict[str, _Held] = {}
        self.running: set[asyncio.Task[None]] = set()
        self.acks = Acks(self.backend, self.queue)
        self._errors = 0

    async def run(self) -> None:
        log.info(
            "%sconsuming SQS queue %s: %d at a time, receives of %d, visibility %d s, wait %d s",
            f"{self.config['name']}: " if self.config.get("name") else "",
            self.backend.url.sqs_name(self.queue),
            self.concurrency,
            self.batch,
            self.vis,
            self.wait,
            extra={"queue": self.queue},
        )
        heartbeat = asyncio.create_task(self._heartbeat())
        stop_wait = asyncio.create_task(self.consumer.stopping.wait())
        try:
            while not self.consumer.stopping.is_set():
                receive = asyncio.ensure_future(self._receive())
                await asyncio.wait({receive, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not receive.done():  # stopping during a long poll: give back what it brings
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(receive), self.consumer.time_left())
                    if receive.done() and not receive.cancelled():
                        for msg in receive.result():
                            self._give_back(msg)
                    break
                msgs = receive.result()
                if not msgs and self.wait == 0:
                    # drain_delay 0 means short polls: pause so an empty queue is not hammered
                    await asyncio.wait({stop_wait}, timeout=_SHORT_POLL_PAUSE_S)
                units = _units(msgs, fifo=is_fifo(self.queue))
                for i, unit in enumerate(units):
                    if not await self._take_slot(stop_wait):
                        for rest in units[i:]:
                            for msg in rest:
                                self._give_back(msg)
                        break
                    task = asyncio.create_task(self._run_unit(unit))
                    self.running.add(task)
                    task.add_done_callback(self.running.discard)
            await self._drain()
        finally:
            heartbeat.cancel()
            stop_wait.cancel()
            await self.acks.close()

    async def _take_slot(self, stop_wait: asyncio.Task[Any]) -> bool:
        if self.consumer.stopping.is_set():
            return False
        acquire = asyncio.ensure_future(self.slots.acquire())
        await asyncio.wait({acquire, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
        if acquire.done():
            if self.consumer.stopping.is_set():
                self.slots.release()
                return False
            return True
        acquire.cancel()
        return False

    async def _receive(self) -> list[Received]:
        started = time.monotonic()
        try:
            url = await self.backend.calls.queue_url(self.queue)
            reply = await self.backend.calls.run(
                self.backend.calls.client.receive_message,
                QueueUrl=url,
                MaxNumberOfMessages=self.batch,
                WaitTimeSeconds=self.wait,
                VisibilityTimeout=self.vis,
                MessageSystemAttributeNames=_SYSTEM_ATTRIBUTES,
                MessageAttributeNames=["All"],
            )
        except Exception as exc:
            await self._receive_failed(exc)
            return []
        if self._errors:
            log.info("SQS queue %s reachable again", self.queue, extra={"queue": self.queue})
        self._errors = 0
        msgs = [Received.from_boto(m) for m in reply.get("Messages", [])]
        for msg in msgs:
            self.held[msg.receipt_handle] = _Held(msg, started + self.vis)
        return msgs

    async def _receive_failed(self, exc: Exception) -> None:
        """Log, back off (0.5 s doubling to 10 s), and recreate a lost queue if allowed."""
        self._errors += 1
        extra = {"queue": self.queue}
        if is_missing_queue(exc):
            self.backend.calls.forget(self.queue)
            if self.backend.url.create:
                log.warning("SQS queue %s is missing; creating it", self.queue, extra=extra)
                with contextlib.suppress(Exception):
                    await self.backend.create_queues()
            else:
                log.error(
                    "SQS queue %s does not exist (run `qgen sqs create-queues`): %s",
                    self.backend.url.sqs_name(self.queue),
                    exc,
                    extra=extra,
                )
        elif self._errors == 1 or self._errors % 20 == 0:
            log.warning("receive from SQS queue %s failed: %s", self.queue, exc, extra=extra)
        delay = min(10.0, 0.5 * 2 ** min(self._errors - 1, 5))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.consumer.stopping.wait(), delay)

    async def _run_unit(self, unit: list[Received]) -> None:
        """Run messages one after the other in one slot (one message, or one FIFO group's
        messages of a receive, in order). When one is not finished (retry, no outcome), the
        rest of the group is given back so the group's order holds."""
        done = 0
        try:
            for msg in unit:
                if done and self.consumer.stopping.is_set():
                    break
                finished = await self._run_one(msg)
                done += 1
                if not finished:
                    break
        finally:
            self.slots.release()
            for msg in unit[done:]:
                if msg.receipt_handle in self.held:
                    self._give_back(msg)

    async def _run_one(self, msg: Received) -> bool:
        """Run one message and apply its outcome; True if it is finished (deleted)."""
        extra = {"queue": self.queue, "job_id": msg.job_id}
        try:
            outcome = await job_outcome(self.queue, self.config, msg, self.consumer.handle)
        except asyncio.CancelledError:
            log.warning("job %s given back at shutdown", msg.job_id, extra=extra)
            self._give_back(msg)
            raise
        except Exception:
            # The runner never raises for job errors; this is a bug or a lost server. The
            # message comes back after its visibility timeout.
            log.exception("job %s: no outcome; it will be received again", msg.job_id, extra=extra)
            self.held.pop(msg.receipt_handle, None)
            return False
        return await self._apply(msg, outcome)

    async def _apply(self, msg: Received, outcome: Outcome) -> bool:
        self.held.pop(msg.receipt_handle, None)
        if isinstance(outcome, Retry):
            self.acks.change(msg, retry_visibility(outcome.delay))
            return False
        if isinstance(outcome, Failed) and outcome.dead_letter:
            try:
                await self.backend.copy_to_dead_letter(
                    self.queue, msg, outcome.dead_letter, outcome.error
                )
            except Exception as exc:  # keep the message: it comes back and is tried again
                log.error(
                    "job %s: copy to dead-letter queue %s failed: %s",
                    msg.job_id,
                    outcome.dead_letter,
                    exc,
                    extra={"queue": self.queue, "job_id": msg.job_id},
                )
                return False
        self.acks.delete(msg)  # completed, discarded, or failed for good
        return True

    def _give_back(self, msg: Received) -> None:
        self.held.pop(msg.receipt_handle, None)
        self.acks.change(msg, 0)

    async def _heartbeat(self) -> None:
        """Extend the visibility of held messages before it runs out (period vis/3, extend
        when less than 2/3 of it is left), so long jobs are never received twice."""
        period = self.vis / 3
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            due = [h for h in self.held.values() if h.deadline - now < 2 * period]
            if not due:
                continue
            for h in due:
                h.deadline = now + self.vis
            await self.acks.extend([h.msg for h in due], self.vis)

    async def _drain(self) -> None:
        if self.running:
            _, pending = await asyncio.wait(set(self.running), timeout=self.consumer.time_left())
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for held in list(self.held.values()):
            self._give_back(held.msg)

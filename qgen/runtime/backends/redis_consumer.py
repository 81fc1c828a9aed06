"""The Redis consumer: BullMQ's worker protocol, run by long-lived slots.

Each queue gets ``batch_size`` slots; each slot owns one lock token for its whole life (the Lua
``moveToFinished`` locks the job it fetches next with the finishing job's token). A slot finishes
a job and fetches the next in the same script call (BullMQ's fetchNext, which the stock Python
worker never uses), and the calls of all slots go out together through one pipeline
(:class:`Batcher`). Everything else is BullMQ's own protocol and data: locks renewed with
``extendLocks``, stalled jobs recovered with ``moveStalledJobsToWait``, idle waiting on the
queue's marker with ``BZPOPMIN`` on a dedicated connection, events written by the scripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
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
from qgen.runtime.backends.redis_exec import COMMAND_TIMEOUT, TRANSIENT, Batcher, ScriptError
from qgen.runtime.backends.redis_jobs import (
    attempts_made,
    pairs,
)
from qgen.runtime.backends.redis_keys import Call, QueueKeys, pack
from qgen.runtime.backends.redis_outcomes import Outcomes, ProgressReport, job_data

if TYPE_CHECKING:
    from qgen.runtime.backends.redis import RedisBackend

log = logging.getLogger("qgen.redis")

Fetched = tuple[str, dict[str, Any]]  # (job id, job hash)


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisConsumer:
    def __init__(
        self, backend: RedisBackend, queues: Sequence[QueueSettings], handle: Handler
    ) -> None:
        self.backend = backend
        self.handle = handle
        self.client = backend.new_client()  # the consumer's own pool (bullmq bug #3401)
        self.batcher = Batcher(backend.scripts_for(self.client))
        self.loops = [QueueLoop(self, s) for s in queues]
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        await self.batcher.scripts.load()
        try:
            await asyncio.gather(*(loop.run() for loop in self.loops))
        finally:
            await self.batcher.close()
            await self.batcher.scripts.close()
            with contextlib.suppress(Exception):
                await self.client.aclose()

    async def stop(self, grace: float) -> None:
        await asyncio.gather(*(loop.stop(grace) for loop in self.loops))


class QueueLoop:
    """One queue's slots, waiter, lock renewal and stalled checks."""

    def __init__(self, consumer: RedisConsumer, settings: QueueSettings) -> None:
        self.consumer = consumer
        self.batcher = consumer.batcher
        self.queue = settings.name
        self.keys: QueueKeys = consumer.backend.keys_for(self.queue)
        cfg = settings.config
        self.concurrency = settings.concurrency
        self.lock_ms = int(cfg.get("lock_duration", 30_000))
        self.stalled_ms = max(self.lock_ms, 1000)
        self.drain_delay = float(cfg.get("drain_delay", 5))
        self.max_stalled = int(cfg.get("max_stalled_count", 1))
        self.name: str | None = cfg.get("name")
        self.default_attempts = int(cfg.get("attempts", 3))
        self.dead_letter: str | None = cfg.get("dead_letter")
        self.outcomes = Outcomes(
            consumer.backend,
            self.keys,
            queue=self.queue,
            lock_ms=self.lock_ms,
            name=self.name,
            default_attempts=self.default_attempts,
            keep_complete=cfg.get("remove_on_complete"),
            keep_fail=cfg.get("remove_on_fail"),
        )
        self.worker_id = uuid.uuid4().hex
        self.active: dict[str, str] = {}  # job id -> lock token, for lock renewal
        self.stopping = False
        self._gen = 0  # bumped on every wake-up; a slot that saw it change never sleeps
        self._wake = asyncio.Event()
        self._idle = 0
        self._any_idle = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None  # wakes slots for the next delayed job
        self._timer_due = 0.0
        self._slots: list[asyncio.Task[None]] = []
        self._aux: list[asyncio.Task[None]] = []

    # -- life cycle --------------------------------------------------------------------------

    async def run(self) -> None:
        log.info(
            "consuming %s (concurrency %d, lock %d ms)",
            self.queue,
            self.concurrency,
            self.lock_ms,
            extra={"queue": self.queue},
        )
        self._aux = [
            asyncio.create_task(self._waiter(), name=f"qgen-wait-{self.queue}"),
            asyncio.create_task(self._renew_locks(), name=f"qgen-locks-{self.queue}"),
            asyncio.create_task(self._stalled_checks(), name=f"qgen-stalled-{self.queue}"),
        ]
        self._slots = [
            asyncio.create_task(self._slot(f"{self.worker_id}:{i}"), name=f"qgen-slot-{i}")
            for i in range(self.concurrency)
        ]
        try:
            await asyncio.gather(*self._slots, return_exceptions=True)
        finally:
            if self._timer is not None:
                self._timer.cancel()
            for task in self._aux:
                task.cancel()
            await asyncio.gather(*self._aux, return_exceptions=True)

    async def stop(self, grace: float) -> None:
        self.stopping = True
        self._wake_all()
        if self._slots:
            _, pending = await asyncio.wait(self._slots, timeout=max(grace, 0))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._give_back()

    async def _give_back(self) -> None:
        """Jobs still active after the grace period go back to wait (not failed)."""
        for job_id, token in list(self.active.items()):
            call: Call = (
                "moveJobFromActiveToWait",
                self.keys.move_active_to_wait(),
                [job_id, token, self.keys.job(job_id)],
            )
            try:
                await self.batcher.run(call)
                log.info("gave job back", extra={"queue": self.queue, "job_id": job_id})
            except Exception as exc:
                log.warning("could not give job %s back: %s", job_id, exc)
            self.active.pop(job_id, None)

    # -- slots -------------------------------------------------------------------------------

    def _fetch_opts(self, token: str) -> bytes:
        opts: dict[str, Any] = {"token": token, "lockDuration": self.lock_ms, "limiter": None}
        if self.name:
            opts["name"] = self.name
        return pack(opts)

    async def _slot(self, token: str) -> None:
        fetch_opts = self._fetch_opts(token)
        job: Fetched | None = None
        failures = 0
        while True:
            if job is None:
                if self.stopping:
                    return
                gen = self._gen
                call: Call = (
                    "moveToActive",
                    self.keys.active_keys,
                    [self.keys.base, _now_ms(), fetch_opts],
                )
                try:
                    job = self._parse(await self.batcher.run(call))
                    failures = 0
                except Exception as exc:  # connection lost, or a script error: keep the slot
                    failures += 1
                    await self._pause_after_error(exc, failures)
                    continue
                if job is None:
                    await self._sleep(gen)
                    continue
            current = job
            try:
                job = await self._process(current, token, fetch_opts)
            except Exception:  # a bug, not a job error: the job stays locked until it stalls
                log.exception("slot failed on job %s", current[0], extra={"queue": self.queue})
                self.active.pop(current[0], None)
                job = None
                await asyncio.sleep(0.1)

    async def _pause_after_error(self, exc: BaseException, failures: int) -> None:
        if failures == 1 or failures % 50 == 0:
            log.warning("redis error on %s (retrying): %s", self.queue, exc)
        await asyncio.sleep(min(0.05 * 2 ** min(failures, 6), 2.0))

    def _parse(self, reply: Any) -> Fetched | None:
        if isinstance(reply, int):
            if reply < 0:
                raise ScriptError("fetch", reply)
            return None
        if not isinstance(reply, list) or not reply:
            return None
        raw = reply[0]
        if isinstance(raw, list) and raw:
            return str(reply[1]), pairs(raw)
        limit_ms = int(reply[2] or 0) if len(reply) > 2 else 0
        delay_until = float(reply[3] or 0) if len(reply) > 3 else 0.0
        if limit_ms > 0:
            delay_until = _now_ms() + limit_ms
        if delay_until > 0:
            self._wake_at(delay_until)
        return None

    def _wake_at(self, due_ms: float) -> None:
        """Wake the idle slots when the next delayed job is due (they promote it by fetching);
        a timer, so a blocked marker wait never has to be interrupted."""
        if self._timer is not None and self._timer_due <= due_ms:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due_ms
        delay = max((due_ms - _now_ms()) / 1000, 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._wake_all()

    async def _sleep(self, gen: int) -> None:
        if gen != self._gen or self.stopping:
            return
        event = self._wake
        self._idle += 1
        self._any_idle.set()
        try:
            await event.wait()
        finally:
            self._idle -= 1
            if not self._idle:
                self._any_idle.clear()

    def _wake_all(self) -> None:
        self._gen += 1
        self._wake.set()
        self._wake = asyncio.Event()

    async def _process(self, job: Fetched, token: str, fetch_opts: bytes) -> Fetched | None:
        job_id, fields = job
        self.active[job_id] = token
        opts, attempts, backoff = self.outcomes.options(fields.get("opts"))
        delivery = Delivery(
            queue=self.queue,
            job_id=job_id,
            data=job_data(fields),
            attempt=attempts_made(fields) + 1,
            max_attempts=attempts,
            backoff=backoff,
            report_progress=ProgressReport(self.batcher, self.keys, job_id).report,
        )
        outcome = await self._outcome(delivery, fields.get("defa"))
        calls = self.outcomes.calls(
            delivery, fields, opts, outcome, token, fetch_opts, self.stopping
        )
        failures = 0
        while True:
            if len(calls) == 1:  # the common case, without gather's extra future
                try:
                    replies = [await self.batcher.submit(calls[0])]
                except Exception as exc:
                    replies = [exc]
            else:
                futs = [self.batcher.submit(c) for c in calls]
                replies = await asyncio.gather(*futs, return_exceptions=True)
            if not any(isinstance(r, TRANSIENT) for r in replies):
                break
            failures += 1
            if self.stopping and failures > 3:
                log.warning(
                    "outcome of job %s not stored; it will be recovered as stalled",
                    job_id,
                    extra={"queue": self.queue, "job_id": job_id},
                )
                self.active.pop(job_id, None)
                return None
            await self._pause_after_error(
                next(r for r in replies if isinstance(r, Exception)), failures
            )
        for extra_reply in replies[:-1]:  # the dead-letter copy
            if isinstance(extra_reply, Exception):
                log.error(
                    "dead-letter copy of job %s failed: %s",
                    job_id,
                    extra_reply,
                    extra={"queue": self.queue, "job_id": job_id},
                )
        self.active.pop(job_id, None)
        reply = replies[-1]
        if isinstance(reply, Exception):
            log.warning(
                "could not store the outcome of job %s (%s); another worker may run it again",
                job_id,
                reply,
                extra={"queue": self.queue, "job_id": job_id},
            )
            return None
        try:
            return self._parse(reply)
        except ScriptError as exc:
            log.warning(
                "job %s: %s; another worker may run it again",
                job_id,
                exc,
                extra={"queue": self.queue, "job_id": job_id},
            )
            return None

    async def _outcome(self, delivery: Delivery, deferred_failure: Any) -> Outcome:
        if deferred_failure:
            # BullMQ's stalled check marks a job that stalled more than max_stalled_count times
            # ("defa") and puts it back; the worker that takes it fails it without running it.
            return Failed(ErrorInfo("JobStalled", str(deferred_failure)), self.dead_letter)
        try:
            return await self.consumer.handle(delivery)
        except asyncio.CancelledError:
            raise  # stop() gives the job back
        except Exception as exc:  # the runner never raises for job errors; be safe anyway
            extra = {"queue": self.queue, "job_id": delivery.job_id}
            log.exception("handler crashed", extra=extra)
            return Retry(ErrorInfo(type(exc).__name__, str(exc)), 1.0)

    # -- idle waiting, locks, stalled jobs ---------------------------------------------------

    async def _waiter(self) -> None:
        """Blocks on the queue's marker while some slot is idle, then wakes the idle slots."""
        client = self.consumer.backend.new_client(single=True)
        failures = 0
        try:
            while not self.stopping:
                await self._any_idle.wait()
                try:
                    async with asyncio.timeout(self.drain_delay + COMMAND_TIMEOUT):
                        res: Any = await client.bzpopmin(self.keys.marker, self.drain_delay)
                    failures = 0
                except TRANSIENT as exc:
                    failures += 1
                    await self._pause_after_error(exc, failures)
                    self._wake_all()
                    continue
                if res:
                    score = float(res[2])
                    if score > _now_ms() + 1:  # a delayed job's marker: wake when it is due
                        self._wake_at(score)
                        continue
                self._wake_all()
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _renew_locks(self) -> None:
        every = max(self.lock_ms / 2000, 0.05)
        while True:
            await asyncio.sleep(every)
            if not self.active:
                continue
            ids, tokens = list(self.active), list(self.active.values())
            call: Call = (
                "extendLocks",
                [self.keys.stalled],
                [
                    self.keys.base,
                    pack(tokens),
                    pack(ids),
                    self.lock_ms,
                ],
            )
            try:
                lost = await self.batcher.run(call)
            except Exception as exc:
                log.warning("lock renewal on %s failed: %s", self.queue, exc)
                continue
            for job_id in lost or ():
                if job_id in self.active:
                    log.warning(
                        "lost the lock of job %s",
                        job_id,
                        extra={"queue": self.queue, "job_id": job_id},
                    )

    async def _stalled_checks(self) -> None:
        while True:
            call: Call = (
                "moveStalledJobsToWait",
                self.keys.move_stalled(),
                [self.max_stalled, self.keys.base, _now_ms(), self.stalled_ms],
            )
            try:
                stalled = await self.batcher.run(call)
                for job_id in stalled or ():
                    log.warning(
                        "recovered stalled job %s",
                        job_id,
                        extra={"queue": self.queue, "job_id": job_id},
                    )
                if stalled:
                    self._wake_all()
            except Exception as exc:
                log.warning("stalled check on %s failed: %s", self.queue, exc)
            await asyncio.sleep(self.stalled_ms / 1000)

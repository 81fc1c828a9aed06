"""Firing schedules inside a worker process: one task beside the consumer, no leader.

Every worker process fires the schedules of the queues it serves. A tick is added with the job
id ``sched-<name>-<tick ms>`` through the backend's idempotent add, so however many processes
fire it, the backend keeps one job. Two backends differ, behind two optional backend methods
(the capability table's ``schedules`` row, docs/schedules.md): SQS sends ticks through a relay
(``tick_relay()``: a FIFO claim queue, as standard queues cannot deduplicate) and Redis stores
schedules as BullMQ job schedulers (``job_schedulers()``, run by :class:`StoreRunner`).

At start-up, a schedule with ``catch_up`` fires its last tick at or before now once (the same
id: if a worker had fired it, nothing is added), so a tick missed while no worker ran is not
lost and several missed ticks make one job. While running, a tick the loop wakes up late for is
still fired (each one, up to ``MAX_LATE_TICKS``; beyond that only the newest).

The clock is injectable (:class:`Clock`): tests drive DST transitions and missed ticks with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.cancel import cancel_safe
from qgen.runtime.manifest import Manifest
from qgen.runtime.schedules import (
    Schedule,
    next_tick,
    prev_tick,
    registered_schedules,
    tick_job_id,
)

log = logging.getLogger("qgen.schedules")
MAX_LATE_TICKS = 100  # ticks fired one by one after a late wake-up; beyond: the newest only
RETRY_S = 1.0  # pause after a failed add before the same tick is tried again
MAX_SLEEP_S = 60.0  # wake at least this often (a clock change is noticed within it)
STORE_POLL_S = 1.0  # a scheduler store is read at least this often


class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Enqueuer(Protocol):
    async def enqueue(self, queue: str, data: Any, options: AddOptions) -> str: ...


class TickRelay(Protocol):
    """A backend that cannot deduplicate every add by id (SQS standard queues) sends ticks
    through a relay: ``fire`` claims a tick, ``relay_once`` forwards the claims it receives;
    the backend's ``tick_relay()`` returns one."""

    async def start(self) -> None: ...

    async def fire(self, queue: str, data: Any, job_id: str) -> None: ...

    async def relay_once(self) -> int: ...


class ScheduleRunner:
    def __init__(
        self,
        backend: Enqueuer,
        schedules: Sequence[Schedule],
        clock: Clock | None = None,
        relay: TickRelay | None = None,
    ) -> None:
        self.backend = backend
        self.relay = relay
        self.schedules = sorted(schedules, key=lambda s: s.name)
        self.clock: Clock = clock or SystemClock()
        self.next: dict[str, int] = {}
        self.fired: list[tuple[str, int]] = []  # (name, tick) added by this process, for tests

    async def fire(self, schedule: Schedule, tick: int) -> None:
        job_id = tick_job_id(schedule, tick)
        if self.relay is not None:
            await self.relay.fire(schedule.queue, schedule.data, job_id)
        else:
            await self.backend.enqueue(schedule.queue, schedule.data, AddOptions(job_id=job_id))
        self.fired.append((schedule.name, tick))
        log.debug("schedule %s fired tick %d as %s", schedule.name, tick, job_id)

    async def start(self) -> None:
        """The start-up pass: missed ticks (catch_up) and the first tick to wait for."""
        now = self.clock.now_ms()
        for s in self.schedules:
            missed = prev_tick(s, now)
            if s.catch_up and not await self._fire_logged(s, missed):
                self.next[s.name] = missed  # tried again by step(), as a due tick
            else:
                self.next[s.name] = next_tick(s, now)
            log.info("%s; next tick at %s", s.describe(), _iso(self.next[s.name]))

    async def step(self) -> float:
        """Fire every due tick; return the seconds until the next one."""
        now = self.clock.now_ms()
        for s in self.schedules:
            due = self.next[s.name]
            if due > now:
                continue
            ticks = [due]
            while len(ticks) < MAX_LATE_TICKS and next_tick(s, ticks[-1]) <= now:
                ticks.append(next_tick(s, ticks[-1]))
            if next_tick(s, ticks[-1]) <= now:
                ticks = [prev_tick(s, now)]
            for tick in ticks:
                if not await self._fire_logged(s, tick):
                    self.next[s.name] = tick  # tried again after RETRY_S
                    break
            else:
                self.next[s.name] = next_tick(s, ticks[-1])
        soonest = min(self.next.values(), default=now + int(MAX_SLEEP_S * 1000))
        wait = (soonest - self.clock.now_ms()) / 1000
        if any(v <= now for v in self.next.values()):
            wait = RETRY_S
        return min(max(wait, 0.0), MAX_SLEEP_S)

    async def run(self) -> None:
        """Start, then fire ticks until cancelled (and forward claims, with a relay)."""
        relaying: asyncio.Task[None] | None = None
        if self.relay is not None:
            await cancel_safe(self.relay.start())
            relaying = asyncio.create_task(self._relay(self.relay), name="qgen-tick-relay")
        try:
            await self.start()
            while True:
                await self.clock.sleep(await self.step())
        finally:
            if relaying is not None:
                relaying.cancel()
                await asyncio.gather(relaying, return_exceptions=True)

    async def _relay(self, relay: TickRelay) -> None:
        while True:
            try:
                await cancel_safe(relay.relay_once())
            except Exception as exc:
                log.warning("schedules: relaying ticks: %s: %s", type(exc).__name__, exc)
                await self.clock.sleep(RETRY_S)

    async def _fire_logged(self, schedule: Schedule, tick: int) -> bool:
        try:
            await cancel_safe(self.fire(schedule, tick))
        except Exception as exc:  # the backend is down: say so, try the same tick again
            log.warning(
                "schedule %s: could not add tick %s: %s: %s",
                schedule.name,
                _iso(tick),
                type(exc).__name__,
                exc,
                extra={"queue": schedule.queue},
            )
            return False
        return True


def _iso(tick: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(tick / 1000)) + f".{tick % 1000:03d}Z"


def served(schedules: Mapping[str, Schedule], queues: Sequence[str]) -> list[Schedule]:
    return [s for _, s in sorted(schedules.items()) if s.queue in set(queues)]


def _check_drift(built: Mapping[str, Schedule], wired: Mapping[str, Schedule]) -> None:
    """The build's schedules are the ones fired; say so when the code now differs."""
    for name in sorted(set(built) | set(wired)):
        if built.get(name) != wired.get(name):
            what = (
                "is not in the build"
                if name not in built
                else "is no longer wired"
                if name not in wired
                else "changed since the build"
            )
            log.warning("schedule %s %s: the build's schedules fire; run `qgen build`", name, what)


class SchedulerStore(Protocol):
    """A backend that stores schedules itself (Redis: BullMQ job schedulers) and makes each
    iteration's job; the backend's ``job_schedulers()`` returns one."""

    def job_id(self, schedule: Schedule, tick: int) -> str: ...

    async def sync(
        self,
        schedules: Sequence[Schedule],
        known: Mapping[str, str],
        queues: Sequence[str],
        now: int,
    ) -> None: ...

    async def advance(
        self, schedules: Sequence[Schedule], queues: Sequence[str], now: int
    ) -> int | None: ...

    async def close(self) -> None: ...


class StoreRunner:
    """The loop for a backend with a :class:`SchedulerStore`: store the schedules at start-up,
    then advance the due ones, waking at the soonest iteration (at least every
    ``STORE_POLL_S``, so schedulers made by others, Node BullMQ, are advanced too)."""

    def __init__(
        self,
        store: SchedulerStore,
        schedules: Sequence[Schedule],
        known: Mapping[str, str],
        queues: Sequence[str],
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.schedules = list(schedules)
        self.known = known
        self.queues = sorted(set(queues))
        self.clock: Clock = clock or SystemClock()

    async def run(self) -> None:
        while not await self._try(
            self.store.sync(self.schedules, self.known, self.queues, self.clock.now_ms())
        ):
            await self.clock.sleep(RETRY_S)
        while True:
            now = self.clock.now_ms()
            soonest: list[int | None] = [None]
            if not await self._try(self._advance(now, soonest)):
                await self.clock.sleep(RETRY_S)
                continue
            wait = STORE_POLL_S if soonest[0] is None else (soonest[0] - now) / 1000
            await self.clock.sleep(min(max(wait, 0.005), STORE_POLL_S))

    async def _advance(self, now: int, out: list[int | None]) -> None:
        out[0] = await self.store.advance(self.schedules, self.queues, now)

    async def _try(self, step: Coroutine[Any, Any, None]) -> bool:
        try:
            await cancel_safe(step)
        except Exception as exc:  # the backend is down: say so, try again
            log.warning("schedules: %s: %s", type(exc).__name__, exc)
            return False
        return True


def relay_of(backend: object) -> TickRelay | None:
    factory = getattr(backend, "tick_relay", None)
    return factory() if callable(factory) else None


def store_of(backend: object) -> SchedulerStore | None:
    """The backend's scheduler store, when it keeps schedules itself (the capability table's
    ``schedules`` row says which does)."""
    factory = getattr(backend, "job_schedulers", None)
    return factory() if callable(factory) else None


@contextlib.asynccontextmanager
async def running(
    backend: Enqueuer, manifest: Manifest | None, queues: Sequence[str]
) -> AsyncIterator[ScheduleRunner | StoreRunner | None]:
    """Fire the schedules of ``queues`` while the block runs (the worker's consume phase):
    those of the build's manifest, or without one those wired in this process."""
    if manifest is not None:
        _check_drift(manifest.schedules, registered_schedules())
    mine = served(manifest.schedules if manifest else registered_schedules(), queues)
    store = store_of(backend)
    # A store backend runs even without schedules of its own: schedulers removed from the build
    # are removed at start-up, and schedulers made by others (Node) are advanced.
    if not mine and (store is None or not queues):
        if store is not None:
            await store.close()
        yield None
        return
    built = manifest.schedules if manifest else registered_schedules()
    known = {name: s.queue for name, s in built.items()}  # name -> queue
    runner: ScheduleRunner | StoreRunner = (
        ScheduleRunner(backend, mine, relay=relay_of(backend))
        if store is None
        else StoreRunner(store, mine, known, queues)
    )
    task = asyncio.create_task(runner.run(), name="qgen-schedules")
    try:
        yield runner
    finally:
        task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
        if store is not None:
            await store.close()
        if isinstance(outcome, Exception):
            log.error("the schedule runner stopped: %s: %s", type(outcome).__name__, outcome)

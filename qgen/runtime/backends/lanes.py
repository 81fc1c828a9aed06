"""What the consumer skeleton and the natives share: jobs, lanes (one per queue), the
consumer's control state, and the reconnect backoff.

Operator hooks on a lane (issue 14): :meth:`Lane.request_cancel` (a native's ``renew`` returns
the ids to cancel, or a push calls it directly; a pushed id the lane does not hold yet, because
the round that leased it is still in flight, is remembered a while, and offering that job makes
the skeleton renew at once, which asks the server again) and the paused state
(:attr:`Lane.paused`, set by the native from its own fetch, or by the skeleton from the
native's ``pause_probe`` at most once per ``pause_every`` seconds). A native fetches nothing
for a paused lane."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from qgen.runtime.backends.base import Cancelled, Delivery, Outcome
from qgen.runtime.settings import QueueSettings

UNHELD_CANCEL_KEPT_FOR = 10.0  # s: a pushed cancel of a job not held (yet) is remembered
UNHELD_CANCELS_KEPT = 1000


class Job:
    """What a native hands the skeleton for one leased job (natives subclass it)."""

    __slots__ = ("delivery", "suspect")

    def __init__(self, delivery: Delivery, suspect: bool = False) -> None:
        self.delivery = delivery
        self.suspect = suspect  # stalled before: quarantined (one at a time per process)


J = TypeVar("J", bound=Job)
Done = tuple[J, Outcome | None]  # an outcome to record; None gives the job back untouched


class Backoff:
    """Delays between retries of a failing round or connection: 0.1 s doubling to 5 s, with
    jitter."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first, self.cap, self.tries = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.tries)
        self.tries += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.tries = 0


class Control:
    """The consumer's state that natives read: stopping, and the running quarantined job."""

    def __init__(self) -> None:
        self.stopping = False
        self.stopped = asyncio.Event()  # set by stop(): natives end their long waits
        self.deadline = float("inf")  # monotonic end of the grace period
        self.suspect: Job | None = None

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class Slot:
    __slots__ = ("job", "task")

    def __init__(self) -> None:
        self.job: Job | None = None
        self.task: asyncio.Task[None] | None = None


class Lane(Generic[J]):
    """One queue inside a consumer. Natives may subclass it to keep their per-queue state."""

    def __init__(self, settings: QueueSettings, wake: asyncio.Event) -> None:
        self.settings = settings
        self.name = settings.name
        self.wake = wake  # the event of the loop serving this lane
        self.ready: deque[J] = deque()  # leased, not started
        self.finished: list[Done[J]] = []  # outcomes not yet handed to the native
        self.recording: list[Done[J]] = []  # handed to the native, round in flight
        self.held = 0  # leased and not yet recorded: ready, running, finished, recording
        self.timed = False  # natives that adapt to run times set it: avg_run is kept
        self.avg_run = 1.0  # s, moving average of job run times (start as if jobs were long)
        self.stopping = False
        # Paused (issue 14): the native leases nothing for a paused lane. Natives that see the
        # state in their own fetch call set_paused; the others set ``pause_probe`` and the
        # skeleton asks it before a round, at most once per ``pause_every`` seconds.
        self.paused = False
        self.pause_probe: Callable[[], Awaitable[bool]] | None = None
        self.pause_every = max(0.05, settings.poll_interval / 1000.0)
        self.pause_checked = -float("inf")  # monotonic time of the last probe
        # Cancels asked for ids this lane did not hold: another worker's jobs, or jobs a round
        # in flight is leasing (id -> monotonic time). Offering one sets ``renew_soon``: the
        # skeleton renews at once, and the renewal tells whether the request still stands.
        self.unheld_cancels: dict[str, float] = {}
        self.renew_soon = asyncio.Event()
        self._slots: list[Slot] = []
        self._idle: deque[asyncio.Future[J | None]] = deque()
        # Set by the consumer: how a slot takes the next ready job (quarantine), and, for
        # settling natives, how leased jobs are given back at once.
        self._take: Callable[[Lane[J]], J | None] = _first
        self._give_back_now: Callable[[Any, Sequence[J]], None] | None = None

    def offer(self, jobs: Sequence[J], *, counted: bool = False) -> None:
        """Jobs leased for this lane: start them in free slots, buffer the rest. ``counted``:
        the native already added them to ``held`` (leased earlier, taken in now)."""
        if not counted:
            self.held += len(jobs)
        if self.unheld_cancels:
            for job in jobs:
                if self.unheld_cancels.pop(job.delivery.job_id, None) is not None:
                    self.renew_soon.set()
        if self.stopping:
            self.give_back(jobs)
            return
        self.ready.extend(jobs)
        if self._idle:
            self._dispatch()

    def give_back(self, jobs: Sequence[J]) -> None:
        """Return leased jobs untouched (recorded by the native like any outcome)."""
        if self._give_back_now is not None:
            self._give_back_now(self, jobs)
            self.held -= len(jobs)
            return
        self.finished.extend((job, None) for job in jobs)
        self.wake.set()

    def set_paused(self, paused: bool) -> None:
        """The queue's paused state as the native learnt it. Pausing gives back the jobs leased
        ahead (they have not started); resuming wakes the loop."""
        was, self.paused = self.paused, paused
        if paused and not was and self.ready:
            jobs = list(self.ready)
            self.ready.clear()
            self.give_back(jobs)
        elif was and not paused:
            self.wake.set()

    def recheck_paused(self) -> None:
        """A push said the paused state changed: probe again before the next round."""
        self.pause_checked = -float("inf")
        self.wake.set()

    def request_cancel(self, job_ids: Iterable[str], reason: str = "cancelled by request") -> int:
        """Operators cancelled these jobs (ids this lane may hold). A running job's flag is set
        (the runner cancels its task); a job leased ahead ends cancelled without starting.
        Returns how many held jobs were found; the others are looked for again after the
        slots that were just handed a job took it, then remembered (``unheld_cancels``)."""
        wanted = set(job_ids)
        found = self._cancel(wanted, reason)
        rest = wanted - found
        if rest:
            with contextlib.suppress(RuntimeError):  # no running loop: nothing is held
                asyncio.get_running_loop().call_soon(self._cancel_unheld, rest, reason)
        return len(found)

    def _cancel_unheld(self, wanted: set[str], reason: str) -> None:
        """A slot handed a job in this turn of the loop runs it only from the next turn on:
        look again once it did, then remember what is still not held."""
        rest = wanted - self._cancel(wanted, reason)
        rest -= {job.delivery.job_id for job in self.held_jobs()}  # finished meanwhile
        if not rest:
            return
        now = time.monotonic()
        if len(self.unheld_cancels) + len(rest) > UNHELD_CANCELS_KEPT:
            self.unheld_cancels = {
                i: t for i, t in self.unheld_cancels.items() if now - t < UNHELD_CANCEL_KEPT_FOR
            }
        for job_id in rest:
            if len(self.unheld_cancels) < UNHELD_CANCELS_KEPT:
                self.unheld_cancels[job_id] = now

    def _cancel(self, wanted: set[str], reason: str) -> set[str]:
        """Flag the held jobs among ``wanted``; returns their ids."""
        found: set[str] = set()
        for job in list(self.ready):
            if job.delivery.job_id in wanted:
                found.add(job.delivery.job_id)
                job.delivery.cancel.request(reason)
                if self._give_back_now is None:  # settling natives: the runner ends it at start
                    self.ready.remove(job)
                    self.finished.append((job, Cancelled(reason)))
                    self.wake.set()
        for job in self.running():
            if job.delivery.job_id in wanted:
                found.add(job.delivery.job_id)
                job.delivery.cancel.request(reason)
        return found

    def running(self) -> list[J]:
        return [slot.job for slot in self._slots if slot.job is not None]  # type: ignore[misc]

    def held_jobs(self) -> list[J]:
        """Every job this lane holds a lease on (for heartbeats)."""
        jobs = list(self.ready) + self.running()
        jobs += [job for job, _ in self.finished]
        jobs += [job for job, _ in self.recording]
        return jobs

    def _dispatch(self) -> None:
        while self._idle and self.ready:
            fut = self._idle.popleft()
            if fut.done():  # its slot was cancelled while idle
                continue
            job = self._take(self)
            if job is None:
                self._idle.appendleft(fut)
                return
            fut.set_result(job)


def _first(lane: Lane[J]) -> J | None:
    return lane.ready.popleft()

"""What a job function gets as its optional third parameter.

``async def`` functions receive an :class:`Interaction` whose ``queue.update_progress`` is a
coroutine; plain ``def`` functions run in a thread and receive a :class:`SyncInteraction` whose
``queue.update_progress`` blocks until the progress is stored. ``fail`` and ``discard`` raise in
both, so they end the function wherever they are called.

``queue.cancelled`` turns true once an operator cancels the running job (``handle.cancel()``).
An ``async def`` job also sees its task cancelled (``CancelledError`` at its next ``await``); a
plain ``def`` job cannot be interrupted by Python, so it should look at the flag in its loops
and return early. Either way the job ends ``cancelled``: no retry, no dead letter, no result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, NoReturn

from qgen.runtime.errors import QueueJobDiscarded, QueueJobFailed
from qgen.runtime.json_rule import json_problem

Progress = int | float | str | dict[str, Any]
ProgressReporter = Callable[[Progress], Coroutine[Any, Any, None]]


def _check_progress(value: object) -> Progress:
    if isinstance(value, bool) or not isinstance(value, int | float | str | dict):
        raise TypeError(
            f"progress must be a number, a string or a JSON object, not {type(value).__name__}"
        )
    problem = json_problem(value, "progress")  # the rule results follow, on every backend
    if problem is not None:
        raise ValueError(f"{problem[0]}: {problem[1]}")
    return value


class CancelFlag:
    """An operator's cancel request for one delivered job, shared by the consumer (which sets
    it), the runner (which arms it with the job's task) and the job (``queue.cancelled``).

    Armed, :meth:`request` cancels that task once; the runner then tells that cancellation
    from any other (a worker shutdown, the job's own) by :attr:`fired`."""

    __slots__ = ("_task", "fired", "reason", "requested")

    def __init__(self) -> None:
        self.requested = False
        self.reason = ""
        self.fired = False  # request() cancelled the armed task
        self._task: asyncio.Task[object] | None = None

    def request(self, reason: str = "cancelled by request") -> None:
        if self.requested:
            return
        self.requested, self.reason = True, reason
        task = self._task
        if task is not None and not task.done():
            self.fired = True
            task.cancel(f"qgen: {reason}")

    def arm(self, task: asyncio.Task[object]) -> None:
        """Cancel ``task`` on a request (only while it runs the job's async code)."""
        self._task = task

    def disarm(self) -> None:
        self._task = None


@dataclass(frozen=True, slots=True)
class _QueueFacts:
    queue_name: str
    job_id: str
    attempt: int  # 1 on the first try
    max_attempts: int

    def fail(self, reason: str) -> NoReturn:
        """Fail this attempt: retried with backoff while attempts remain, then failed (and sent
        to the dead-letter queue if one is configured)."""
        raise QueueJobFailed(reason)

    def discard(self, reason: str) -> NoReturn:
        """End the job now: no retry, no dead letter."""
        raise QueueJobDiscarded(reason)


@dataclass(frozen=True, slots=True)
class QueueInteraction(_QueueFacts):
    _report: ProgressReporter
    _cancel: CancelFlag = field(default_factory=CancelFlag, repr=False, compare=False)

    @property
    def cancelled(self) -> bool:
        """True once an operator cancelled this job (the task is cancelled as well)."""
        return self._cancel.requested

    async def update_progress(self, value: Progress) -> None:
        await self._report(_check_progress(value))


@dataclass(frozen=True, slots=True)
class SyncQueueInteraction(_QueueFacts):
    _report: ProgressReporter
    _loop: asyncio.AbstractEventLoop
    _cancel: CancelFlag = field(default_factory=CancelFlag, repr=False, compare=False)

    @property
    def cancelled(self) -> bool:
        """True once an operator cancelled this job: return early (a thread cannot be
        interrupted); the job ends cancelled whatever it returns."""
        return self._cancel.requested

    def update_progress(self, value: Progress) -> None:
        """Blocks the calling (worker) thread until the backend stored the progress."""
        coro = self._report(_check_progress(value))
        asyncio.run_coroutine_threadsafe(coro, self._loop).result()


@dataclass(frozen=True, slots=True)
class Interaction:
    """Handed to ``async def`` job functions. ``queue`` is None when called outside a queue."""

    queue: QueueInteraction | None = None


@dataclass(frozen=True, slots=True)
class SyncInteraction:
    """Handed to plain ``def`` job functions. ``queue`` is None when called outside a queue."""

    queue: SyncQueueInteraction | None = None

"""What a job function gets as its optional third parameter.

``async def`` functions receive an :class:`Interaction` whose ``queue.update_progress`` is a
coroutine; plain ``def`` functions run in a thread and receive a :class:`SyncInteraction` whose
``queue.update_progress`` blocks until the progress is stored. ``fail`` and ``discard`` raise in
both, so they end the function wherever they are called.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
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

    async def update_progress(self, value: Progress) -> None:
        await self._report(_check_progress(value))


@dataclass(frozen=True, slots=True)
class SyncQueueInteraction(_QueueFacts):
    _report: ProgressReporter
    _loop: asyncio.AbstractEventLoop

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

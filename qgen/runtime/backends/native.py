"""The protocols of a consumer's native half: what each backend's ``consumer.py`` implements
for :class:`qgen.runtime.backends.skeleton.ConsumerSkeleton`."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from typing import Any, Protocol, TypeVar

from qgen.runtime.backends.base import Handler, Outcome
from qgen.runtime.backends.lanes import Control, Done, Lane
from qgen.runtime.settings import QueueSettings

L = TypeVar("L", bound="Lane[Any]")


class Native(Protocol[L]):
    """The backend-specific half of a consumer; ``L`` is its lane type."""

    settles: bool  # outcomes applied per job by ``settle`` (a :class:`Settling` native)
    gather_yields: int  # loop yields before a round, so that more finished jobs join it

    def lane(self, settings: QueueSettings, wake: asyncio.Event) -> L:
        """This native's lane object for a queue."""
        ...

    def groups(self, lanes: Sequence[L]) -> list[list[L]]:
        """Which lanes share one loop (and so one round trip per round)."""
        ...

    async def open(self, control: Control) -> None: ...

    async def close(self) -> None: ...

    async def exchange(self, group: list[L], done: list[list[Done[Any]]]) -> bool:
        """Record ``done`` (one list per lane of ``group``) and fetch what the lanes want,
        offering new jobs to them. False when there was nothing to do (the loop then idles)."""
        ...

    async def idle(self, group: list[L], wake: asyncio.Event) -> None:
        """Wait for work: ``wake``, a notification from the server, or a poll period."""
        ...

    def transient(self, exc: BaseException) -> bool:
        """True for errors that are expected now and then (a lost connection): logged briefly."""
        ...

    def renew_every(self, lane: L) -> float: ...

    async def renew(self, lane: L, jobs: list[Any]) -> Collection[str] | None:
        """Extend the leases of ``jobs`` (held by this process). Returns the ids among them
        that an operator asked to cancel (``Backend.cancel`` of an active job), learnt in the
        same round trip where the backend can; None or empty: none. The skeleton hands them
        to :meth:`Lane.request_cancel`. A native with a push channel may call that at once."""
        ...

    def recover_every(self, lane: L) -> float | None:
        """Period of ``recover``, or None when the server recovers jobs by itself."""
        ...

    async def recover(self, lane: L) -> None:
        """Take back jobs whose lease ran out (their worker died)."""
        ...


class Settling(Native[L], Protocol[L]):
    """A native that applies each outcome as its job ends."""

    async def run(self, lane: L, job: Any, handle: Handler) -> Outcome:
        """Run one job (the native may decide its outcome without the handler)."""
        ...

    async def settle(self, lane: L, job: Any, outcome: Outcome) -> Any:
        """Apply one outcome now; return a job to run next in the same slot, or None."""
        ...

    def give_back(self, lane: L, jobs: Sequence[Any]) -> None: ...

"""Client calls that lose a cancellation, for the tests that background loops still stop.

On Python 3.11 a client library may swallow the ``CancelledError`` thrown into it or turn it into
an error of its own (redis-py's connect raises ``TimeoutError``, psycopg an
``OperationalError``); a loop that catches errors around the call and goes on then outlives its
cancellation (docs/decisions.md, "Background loops stop when cancelled")."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

MODES = ["swallow", "raise"]


class Call:
    """A client call that waits until cancelled, then (``swallow``) returns as if nothing
    happened or (``raise``) raises ``error`` (TimeoutError unless given); ``honest`` lets the
    cancel through again, so a test that failed can still end its task. Not hung: answers
    after a short wait (a loop around a call that never suspends would block the event loop)."""

    def __init__(
        self, mode: str, result: Any = None, hang: bool = True, error: Exception | None = None
    ) -> None:
        self.mode, self.result, self.hang = mode, result, hang
        self.error = error if error is not None else TimeoutError("connect cancelled")
        self.honest = False
        self.calls = 0
        self.entered = asyncio.Event()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.entered.set()
        if not self.hang:
            await asyncio.sleep(0.01)
            return self.result
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            if self.honest:
                raise
            if self.mode == "raise":
                raise self.error from exc
        return self.result


async def stops_when_cancelled(
    run: Coroutine[Any, Any, Any] | asyncio.Task[Any], call: Call, within: float = 2.0
) -> None:
    """Start ``run``, cancel it once ``call`` is entered: it must end, cancelled, ``within``
    seconds."""
    task = run if isinstance(run, asyncio.Task) else asyncio.create_task(run)
    try:
        await asyncio.wait_for(call.entered.wait(), 10)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=within)
        assert done, "the loop outlived its cancellation"
        assert task.cancelled(), f"the loop ended with {task.exception()!r}, not cancelled"
    finally:
        if not task.done():  # the failure above: let the next cancel through
            call.honest = True
            task.cancel()
            await asyncio.wait({task}, timeout=5)

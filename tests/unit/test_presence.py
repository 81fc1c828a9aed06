"""The worker heartbeat ends when cancelled, even when the backend's heartbeat swallows the
cancellation (redis-py turns a cancelled connect into its own TimeoutError, and the Redis
registry logged and returned it): a worker stopped during start-up waited 60 s for it."""

from __future__ import annotations

import asyncio
from typing import Any

from qgen.runtime.presence import Presence, worker_info


class SwallowingBackend:
    def __init__(self) -> None:
        self.beats = 0
        self.entered = asyncio.Event()

    async def heartbeat(self, worker: Any, *, stopping: bool = False) -> None:
        self.beats += 1
        self.entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # swallowed, as a client library's error handling did


class RaisingBackend(SwallowingBackend):
    async def heartbeat(self, worker: Any, *, stopping: bool = False) -> None:
        self.beats += 1
        self.entered.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            raise TimeoutError("connect cancelled") from exc  # turned into another error


async def _cancel_mid_beat(backend: SwallowingBackend) -> None:
    presence = Presence.__new__(Presence)
    presence.backend = backend  # type: ignore[assignment]
    presence.enabled = True
    presence.info = worker_info("w", [])
    task = asyncio.create_task(presence.run())
    await asyncio.wait_for(backend.entered.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert done, "the heartbeat task outlived its cancellation"
    assert task.cancelled()
    assert backend.beats == 1


async def test_a_swallowed_cancel_still_ends_the_heartbeat() -> None:
    await _cancel_mid_beat(SwallowingBackend())


async def test_a_cancel_turned_into_an_error_still_ends_the_heartbeat() -> None:
    await _cancel_mid_beat(RaisingBackend())

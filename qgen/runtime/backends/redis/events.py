"""Waiting for jobs to finish by reading BullMQ's event stream (what Node's QueueEvents reads).

One watcher per queue holds its own connection and blocks on ``XREAD`` from the stream position
taken *before* the job's state is checked, so an event between the check and the read is never
missed; waiters are resolved by job id. No polling: the read blocks until Redis has news.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis

from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT, TRANSIENT

log = logging.getLogger("qgen.redis")

FINAL_EVENTS = ("completed", "failed")
BLOCK_MS = 5000
RECHECK_S = 30.0


class EventWatcher:
    def __init__(self, make_client: Callable[[], Redis], keys: QueueKeys) -> None:
        self._make_client = make_client
        self.keys = keys
        self._waiters: dict[str, list[asyncio.Future[dict[str, str]]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_id = "0-0"
        self._ready: asyncio.Future[None] | None = None
        self._client: Redis | None = None

    async def register(self, job_id: str) -> asyncio.Future[dict[str, str]]:
        """A future resolved with the job's final event; the stream position it counts from is
        fixed before this returns, so check the job's state after calling it."""
        fut: asyncio.Future[dict[str, str]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(job_id, []).append(fut)
        if self._task is None or self._task.done():
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name=f"qgen-events-{self.keys.queue}")
        assert self._ready is not None
        await asyncio.shield(self._ready)
        return fut

    def unregister(self, job_id: str, fut: asyncio.Future[dict[str, str]]) -> None:
        futs = self._waiters.get(job_id)
        if futs and fut in futs:
            futs.remove(fut)
            if not futs:
                del self._waiters[job_id]

    async def _run(self) -> None:
        client = self._client = self._make_client()
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                last = await client.xrevrange(self.keys.events, count=1)
            self._last_id = str(last[0][0]) if last else "0-0"
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            while True:
                try:
                    async with asyncio.timeout(BLOCK_MS / 1000 + COMMAND_TIMEOUT):
                        reply: Any = await client.xread(
                            {self.keys.events: self._last_id}, block=BLOCK_MS, count=1000
                        )
                except TRANSIENT as exc:
                    log.warning("event stream read of %s failed: %s", self.keys.queue, exc)
                    await asyncio.sleep(0.2)
                    continue
                for _stream, entries in reply or []:
                    for entry_id, fields in entries:
                        self._last_id = entry_id
                        self._dispatch(fields)
        except BaseException as exc:
            if self._ready is not None and not self._ready.done():
                if isinstance(exc, Exception):
                    self._ready.set_exception(exc)
                else:
                    self._ready.cancel()
            raise
        finally:
            self._client = None
            with contextlib.suppress(Exception):
                await client.aclose()

    def _dispatch(self, fields: dict[str, str]) -> None:
        if fields.get("event") not in FINAL_EVENTS:
            return
        futs = self._waiters.pop(fields.get("jobId", ""), None)
        for fut in futs or ():
            if not fut.done():
                fut.set_result(fields)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        for futs in self._waiters.values():
            for fut in futs:
                fut.cancel()
        self._waiters.clear()


async def wait_event(
    watcher: EventWatcher,
    job_id: str,
    check: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float | None,
) -> tuple[Any, dict[str, str] | None]:
    """Register first, then ``check()``; if the check finds the job unfinished (returns None),
    wait for its final event. Returns (check result or None, event or None)."""
    fut = await watcher.register(job_id)
    try:
        found = await check()
        if found is not None:
            return found, None
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            # A long wait re-checks the state now and then, in case the stream was trimmed
            # past an event before it was read (MAXLEN ~10,000 events).
            left = RECHECK_S if deadline is None else min(RECHECK_S, deadline - loop.time())
            if left <= 0:
                raise TimeoutError
            done, _ = await asyncio.wait({fut}, timeout=left)
            if done:
                return None, fut.result()
            found = await check()
            if found is not None:
                return found, None
    finally:
        watcher.unregister(job_id, fut)

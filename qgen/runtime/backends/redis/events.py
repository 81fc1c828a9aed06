"""Waiting for jobs to finish by reading BullMQ's event streams (what Node's QueueEvents reads).

One reader per process, event loop, server and prefix (it lives in :mod:`.pool`) holds one
connection and blocks on ONE ``XREAD`` over the streams of every queue something waits on.
A queue's position is taken (``XREVRANGE``, on the shared pool) *before* the job's state is
checked, so an event between the check and the read is never missed; waiters are resolved by
queue and job id. A stream with no waiter left is dropped from the read. When a new stream
joins, an entry on the reader's own wake stream ends the blocked read at once (a Redis key,
not a cancelled command, so no wake-up is ever lost between two reads). No polling.

A worker process also has the reader follow streams for as long as it consumes (``watch``):
its queues' cancel-request streams, so a cancel reaches a running job within a read, on the
same connection and the same blocked ``XREAD``, at no cost per job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, RedisError

from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT, Place
from qgen.runtime.cancel import raise_if_cancelled

log = logging.getLogger("qgen.redis")

FINAL_EVENTS = ("completed", "failed")
BLOCK_MS = 5000
RECHECK_S = 30.0
WAKE_TTL_S = 600  # a wake stream left by a killed process expires

Waiter = asyncio.Future[dict[str, str]]
OnEntry = Callable[[dict[str, str]], None]


class EventReader:
    def __init__(self, place: Place, prefix: str) -> None:
        self._place = place
        self.wake_key = f"{prefix}:~qgen-wake:{uuid.uuid4().hex}"  # ~: no queue has this name
        self._streams: dict[str, str] = {}  # events key -> last id read
        self._waiters: dict[tuple[str, str], list[Waiter]] = {}
        self._watches: dict[str, list[OnEntry]] = {}  # streams followed whatever waits
        self._changed = asyncio.Event()
        self._reading: frozenset[str] = frozenset()  # the streams of the read in flight
        self._task: asyncio.Task[None] | None = None
        self._client: Redis | None = None

    async def register(self, stream: str, job_id: str) -> Waiter:
        """A future resolved with the job's final event; the stream position it counts from is
        fixed before this returns, so check the job's state after calling it."""
        fut: Waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((stream, job_id), []).append(fut)
        try:
            await self._follow(stream)
        except BaseException:
            self.unregister(stream, job_id, fut)
            raise
        return fut

    async def watch(self, stream: str, on_entry: OnEntry) -> None:
        """Hand every entry added to ``stream`` from now on to ``on_entry`` (called on the
        reader's task; it must not block), until :meth:`unwatch`. Several consumers of one
        process may follow the same stream."""
        self._watches.setdefault(stream, []).append(on_entry)
        try:
            await self._follow(stream)
        except BaseException:
            self.unwatch(stream, on_entry)
            raise

    def unwatch(self, stream: str, on_entry: OnEntry) -> None:
        handlers = self._watches.get(stream, [])
        if on_entry in handlers:
            handlers.remove(on_entry)
        if not handlers:
            self._watches.pop(stream, None)

    async def _follow(self, stream: str) -> None:
        """Read ``stream`` from its current end on, starting the reader or ending its blocked
        read so that the next read includes it."""
        if stream not in self._streams:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                last = await self._place.client.xrevrange(stream, count=1)
            self._streams.setdefault(stream, str(last[0][0]) if last else "0-0")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="qgen-redis-events")
        if stream not in self._reading:
            self._changed.set()
            if self._reading:
                await self._wake()

    def unregister(self, stream: str, job_id: str, fut: Waiter) -> None:
        futs = self._waiters.get((stream, job_id))
        if futs and fut in futs:
            futs.remove(fut)
            if not futs:
                del self._waiters[(stream, job_id)]

    async def _wake(self) -> None:
        pipe = self._place.client.pipeline(transaction=False)
        pipe.xadd(self.wake_key, {"w": "1"}, maxlen=1, approximate=False)
        pipe.expire(self.wake_key, WAKE_TTL_S)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            await pipe.execute()

    async def _run(self) -> None:
        client = self._client = self._place.blocking_client("events")
        used = self._place.url
        wake_id = "0-0"  # the wake stream is this reader's own: every entry is a wake-up
        try:
            while True:
                self._drop_unwatched()
                if not self._streams:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                self._changed.clear()
                ids: dict[Any, Any] = {**self._streams, self.wake_key: wake_id}
                self._reading = frozenset(self._streams)
                try:
                    async with asyncio.timeout(BLOCK_MS / 1000 + COMMAND_TIMEOUT):
                        reply: Any = await client.xread(ids, block=BLOCK_MS, count=1000)
                except (RedisError, OSError, TimeoutError) as exc:
                    raise_if_cancelled()  # redis-py turned close()'s cancel into this: stop
                    log.warning("event stream read failed (retrying): %s", exc)
                    await asyncio.sleep(0.2)
                    if isinstance(exc, MovedError | RedisConnectionError | OSError):
                        await self._place.relocate()  # a cluster's slot moved, or its master
                    if self._place.url != used:
                        with contextlib.suppress(Exception):
                            await client.aclose()
                        client = self._client = self._place.blocking_client("events")
                        used = self._place.url
                    continue
                finally:
                    self._reading = frozenset()
                raise_if_cancelled()  # ... or the read swallowed it
                for stream, entries in reply or []:
                    if stream == self.wake_key:
                        wake_id = str(entries[-1][0])
                        continue
                    for entry_id, fields in entries:
                        self._streams[stream] = entry_id
                        self._dispatch(stream, fields)
        finally:
            self._reading = frozenset()
            with contextlib.suppress(Exception):
                await client.aclose()

    def _drop_unwatched(self) -> None:
        watched = {stream for stream, _ in self._waiters} | set(self._watches)
        for stream in [s for s in self._streams if s not in watched]:
            del self._streams[stream]

    def _dispatch(self, stream: str, fields: dict[str, str]) -> None:
        handlers = self._watches.get(stream)
        if handlers:
            for on_entry in list(handlers):
                try:
                    on_entry(fields)
                except Exception:  # a bug in a callback must not stop the reader
                    log.exception("event stream %s: handler failed", stream)
            return
        if fields.get("event") not in FINAL_EVENTS:
            return
        futs = self._waiters.pop((stream, fields.get("jobId", "")), None)
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
        self._watches.clear()
        client, self._client = self._client, None
        if client is not None:  # closed by the task too, unless cancelled while closing
            with contextlib.suppress(Exception):
                await client.aclose()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._place.client.delete(self.wake_key)


async def wait_event(
    reader: EventReader,
    stream: str,
    job_id: str,
    check: Callable[[], Coroutine[Any, Any, Any]],
    timeout: float | None,
) -> tuple[Any, dict[str, str] | None]:
    """Register first, then ``check()``; if the check finds the job unfinished (returns None),
    wait for its final event. Returns (check result or None, event or None)."""
    fut = await reader.register(stream, job_id)
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
        reader.unregister(stream, job_id, fut)

"""One blocking connection per consumer waits for work on every idle queue at once.

BullMQ's worker blocks on its queue's marker (``BZPOPMIN <prefix>:<queue>:marker``), one
connection per queue. ``BZPOPMIN`` takes many keys, so qgen's consumer blocks once on the
markers of all its idle lanes and wakes the lane whose marker fired. A lane that turns idle
while the read is blocked without it ends the read by adding to the consumer's own wake key
(a sorted set the same read pops), so no wake-up is lost between two reads: a marker or wake
added before the read starts makes it return at once. A lane idle for its ``drain_delay``
fetches again, as BullMQ's worker does after ``drainDelay`` (the read times out at the first
such deadline, rounded up to a half-second grid so that lanes come due together; the others
stay in the next read). On a cluster every key shares the prefix's
hash tag, so the one read is legal there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError, RedisError

from qgen.runtime.backends.lanes import Control
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT, TRANSIENT, Place
from qgen.runtime.cancel import raise_if_cancelled

log = logging.getLogger("qgen.redis")

WAKE_TTL_S = 600  # a wake key left by a killed process expires
MIN_WAIT_S = 0.05  # the shortest read (drain_delay 0 would block for ever)
DUE_GRID_S = 0.5  # drain_delay deadlines rounded up to this, so fewer reads time out
FAILED: Any = object()  # the read's reply when Redis failed it


class Idle(Protocol):
    """What the waiter needs of a lane (``RedisLane``)."""

    name: str
    any_idle: asyncio.Event
    marker: str
    drain_delay: float

    def wake_all(self) -> None: ...
    def wake_at(self, due_ms: float) -> None: ...


class MarkerWait:
    def __init__(self, lanes: Sequence[Idle], place: Place, prefix: str) -> None:
        self.lanes = lanes
        self._place = place
        self.wake_key = f"{prefix}:~qgen-wake:{uuid.uuid4().hex}"  # ~: no queue has this name
        self._changed = asyncio.Event()
        self._listening: frozenset[str] = frozenset()  # the markers of the read in flight
        self._woken = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: Redis | None = None
        self._client_url = ""
        self._due: dict[str, float] = {}  # marker -> when its idle lane fetches again anyway

    def idle(self, lane: Idle) -> None:
        """``lane`` just turned idle: make sure the read waits on its marker too."""
        due = time.monotonic() + max(lane.drain_delay, MIN_WAIT_S)
        if lane.drain_delay >= 2 * DUE_GRID_S:  # on a grid: idle lanes fetch again together
            due = math.ceil(due / DUE_GRID_S) * DUE_GRID_S
        self._due[lane.marker] = due
        if lane.marker in self._listening:
            return
        if not self._listening:
            self._changed.set()
        elif not self._woken:
            self._woken = True
            task = asyncio.create_task(self._wake(), name="qgen-redis-wake")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _wake(self) -> None:
        pipe = self._place.client.pipeline(transaction=False)
        pipe.zadd(self.wake_key, {"w": 0})
        pipe.expire(self.wake_key, WAKE_TTL_S)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await pipe.execute()
        except (*TRANSIENT, RedisError, TimeoutError) as exc:  # the read ends by its timeout
            log.warning("could not wake the marker wait: %s", exc)

    async def run(self, control: Control) -> None:
        client = self._client = self._place.blocking_client("wait")
        self._client_url = self._place.url
        failures = 0
        try:
            while not control.stopping:
                idle = [lane for lane in self.lanes if lane.any_idle.is_set()]
                self._changed.clear()
                if not idle:
                    await self._changed.wait()
                    continue
                by_marker = {lane.marker: lane for lane in idle}
                now = time.monotonic()
                due = min(self._due.get(marker, now) for marker in by_marker)
                wait = max(due - now, MIN_WAIT_S)
                self._listening, self._woken = frozenset(by_marker), False
                try:
                    async with asyncio.timeout(wait + COMMAND_TIMEOUT):
                        res: Any = await client.bzpopmin([*by_marker, self.wake_key], wait)
                    failures = 0
                except (*TRANSIENT, RedisError) as exc:
                    raise_if_cancelled()  # redis-py turned the cancel into this: stop
                    failures += 1
                    if failures == 1 or failures % 50 == 0:
                        log.warning("redis error waiting for jobs (retrying): %s", exc)
                    await asyncio.sleep(min(0.05 * 2 ** min(failures, 6), 2.0))
                    res = FAILED
                    client = await self._follow(client, exc)
                finally:
                    self._listening = frozenset()
                raise_if_cancelled()  # ... or the read swallowed it
                self._woke(res, idle, by_marker)
        finally:
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def _follow(self, client: Redis, exc: BaseException) -> Redis:
        """After a failed read: on a cluster whose slot moved or whose master is gone, a new
        connection to the new master."""
        if isinstance(exc, MovedError | RedisConnectionError | OSError):
            await self._place.relocate()
        if self._place.url == self._client_url:
            return client
        with contextlib.suppress(Exception):
            await client.aclose()
        self._client_url = self._place.url
        self._client = self._place.blocking_client("wait")
        return self._client

    def _woke(self, res: Any, idle: list[Idle], by_marker: dict[str, Idle]) -> None:
        now = time.monotonic()
        for lane in idle:  # idle for drain_delay (or the read failed): fetch again
            if lane.any_idle.is_set() and (res is FAILED or self._due.get(lane.marker, 0) <= now):
                lane.wake_all()
        fired = by_marker.get(str(res[0])) if res and res is not FAILED else None
        if fired is None:  # timed out, or the wake key: a lane to add to the read
            return
        score = float(res[2])
        if score > time.time() * 1000 + 1:  # a delayed job's marker: wake when it is due
            fired.wake_at(score)
            return
        fired.wake_all()

    async def close(self) -> None:
        """After :meth:`run` ended: its connection closed (again) and the wake key removed."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await self._place.client.delete(self.wake_key)

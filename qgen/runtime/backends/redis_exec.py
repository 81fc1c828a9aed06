"""Sending BullMQ script calls: one at a time, or many in one pipeline.

Speed: redis-py's ``Script`` objects in a pipeline add a ``SCRIPT EXISTS`` round trip, so calls
go out as raw ``EVALSHA``; scripts are (re)loaded only when Redis answers ``NOSCRIPT``.
:class:`Batcher` sends every call submitted while the previous pipeline was in flight as the next
pipeline, so a busy worker completes and fetches many jobs per round trip without any timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qgen.runtime.backends.redis_keys import SCRIPTS, Call

log = logging.getLogger("qgen.redis")

TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


class ScriptError(Exception):
    """A BullMQ script answered with a negative code (job missing, lock lost, ...)."""

    def __init__(self, name: str, code: int, job_id: str | None = None) -> None:
        meaning = {
            -1: "job missing",
            -2: "lock missing",
            -3: "job not active",
            -4: "job has pending children",
            -6: "lock owned by another worker",
        }.get(code, "error")
        super().__init__(f"{name} on job {job_id!r}: {meaning} ({code})")
        self.name, self.code, self.job_id = name, code, job_id


class Scripts:
    def __init__(self, client: Redis) -> None:
        self.client = client

    async def load(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        for script in SCRIPTS.values():
            pipe.script_load(script.source)
        await pipe.execute()

    async def call(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        sha = SCRIPTS[name].sha
        try:
            return await self.client.evalsha(sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.load()
            return await self.client.evalsha(sha, len(keys), *keys, *args)

    async def pipeline(self, calls: Sequence[Call]) -> list[Any]:
        """Results in order; a failed call's result is its exception (never raised here),
        except connection errors, which raise for the whole batch."""
        results = await self._send(calls)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self.load()
            again = await self._send([calls[i] for i in missing])
            for i, r in zip(missing, again, strict=True):
                results[i] = r
        return results

    async def _send(self, calls: Sequence[Call]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for name, keys, args in calls:
            pipe.evalsha(SCRIPTS[name].sha, len(keys), *keys, *args)
        return list(await pipe.execute(raise_on_error=False))


class Batcher:
    """Coalesces script calls from many tasks into pipelines."""

    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self._pending: list[tuple[Call, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    def submit(self, call: Call) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((call, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush(), name="qgen-redis-batcher")
        return fut

    async def run(self, call: Call) -> Any:
        return await self.submit(call)

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the other ready tasks add their calls first
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self.scripts.pipeline([c for c, _ in batch])
            except BaseException as exc:  # connection lost: every caller sees it and retries
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError())
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, Exception):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.gather(self._task, return_exceptions=True)

"""Talking to Redis: clients, and BullMQ script calls sent one at a time or many per pipeline.

Speed: redis-py's ``Script`` objects in a pipeline add a ``SCRIPT EXISTS`` round trip, so calls
go out as raw ``EVALSHA``; scripts are (re)loaded only when Redis answers ``NOSCRIPT``.
:class:`Batcher` sends every call submitted while the previous pipeline was in flight as the next
pipeline (progress, lock renewals and other calls made outside a consumer round).

Connections: the client side (add, get) has one pooled client, each consumer another, and each
blocking reader (the idle worker's marker wait, the event watcher) its own connection: bullmq's
bug #3401 showed what sharing one connection between producer and worker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qgen.runtime.backends.redis.scripts import SCRIPTS, Call, Encoded, encode_evalsha
from qgen.runtime.backends.redis.url import RedisTarget

log = logging.getLogger("qgen.redis")

COMMAND_TIMEOUT = 30.0  # s; one timeout per pipeline instead of redis-py's per read and write
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


def new_client(target: RedisTarget, *, single: bool = False) -> Redis:
    """A redis-py client for ``target``; ``single``: one dedicated connection (blocking reads)."""
    retry = RedisRetry(ExponentialBackoff(cap=1.0, base=0.05), 5)
    client: Redis = Redis.from_url(
        target.client_url,
        decode_responses=True,
        retry=retry,
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        single_connection_client=single,
        client_name=f"qgen:{target.prefix}",  # CLIENT LIST shows who is connected
        # No per-read timeout: blocking readers (BZPOPMIN, XREAD BLOCK) wait longer than
        # redis-py's default 5 s, and script calls run under one asyncio timeout per pipeline
        # (COMMAND_TIMEOUT), which costs less than one per read.
        socket_timeout=None,
    )
    return client


class Scripts:
    """Script calls written straight to a pooled connection as one RESP buffer and read back
    in order (a pipeline without redis-py's per-command packing and bookkeeping)."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        # Connections this object keeps between calls (the pool's own checkout costs more
        # than the call); one per call in flight, so concurrency still gets its own sockets.
        self._idle: list[Any] = []

    async def load(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        for script in SCRIPTS.values():
            pipe.script_load(script.source)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            await pipe.execute()

    async def call(self, name: str, keys: Sequence[str] | Encoded, args: Sequence[Any]) -> Any:
        result = (await self.pipeline([(name, keys, args)]))[0]
        if isinstance(result, Exception):
            raise result
        return result

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
        payload = b"".join(map(encode_evalsha, calls))
        for attempt in (1, 2):
            conn = self._idle.pop() if self._idle else await self._new_conn()
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await conn.send_packed_command(payload, check_health=False)
                    results: list[Any] = []
                    for _ in calls:
                        try:
                            results.append(await conn.read_response())
                        except ResponseError as exc:
                            results.append(exc)
            except TRANSIENT:
                # Mostly a connection that died while idle (server restart, CLIENT KILL): one
                # more try on a new one, as redis-py's own retry does. A call that did run is
                # harmless to repeat for the worker's scripts (they check the lock); an add
                # without job_id may then be stored twice (at least once).
                await self._drop(conn)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                await self._drop(conn)
                raise
            self._idle.append(conn)
            return results
        raise AssertionError("unreachable")

    async def _new_conn(self) -> Any:
        return await self.client.connection_pool.get_connection()  # type: ignore[no-untyped-call]

    async def _drop(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            await conn.disconnect()
        with contextlib.suppress(Exception):
            await self.client.connection_pool.release(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await self.client.connection_pool.release(conn)


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

"""Talking to Redis: clients, and BullMQ script calls sent one at a time or many per pipeline.

Speed: redis-py's ``Script`` objects in a pipeline add a ``SCRIPT EXISTS`` round trip, so calls
go out as raw ``EVALSHA``; scripts are (re)loaded only when Redis answers ``NOSCRIPT``.
:class:`Batcher` sends every call submitted while the previous pipeline was in flight as the next
pipeline (progress, lock renewals and other calls made outside a consumer round).

Connections (the count is in docs/decisions.md): the clients and consumers of a process share
one bounded pool per event loop, server and prefix (:mod:`.pool`); :class:`Scripts` sends on at
most ``max_connections - 1`` of them at once, leaving one for redis-py's own commands, and calls
made while all are busy go out together as one pipeline when the first comes back. Blocking
reads (the consumer's marker wait, the event reader) hold their own connection each: a
blocking command would stall every call queued behind it. (bullmq's bug #3401, one connection
shared by its producer and worker, is about its client objects; qgen's script calls carry all
they need.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import AskError, MovedError, NoScriptError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qgen.runtime.backends.redis.scripts import SCRIPTS, Call, Encoded, encode_evalsha
from qgen.runtime.backends.redis.url import DEFAULT_MAX_CONNECTIONS, RedisTarget

log = logging.getLogger("qgen.redis")

COMMAND_TIMEOUT = 30.0  # s; one timeout per pipeline instead of redis-py's per read and write
TRANSIENT = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
# s before each send of a script pipeline: at once, then backing off over about 1.4 s (a
# dropped connection); then, or when no new connection can be made, the caller sees the error.
RESEND_DELAYS = (0.0, 0.0, 0.1, 0.3, 1.0)
MIGRATION_WAIT = COMMAND_TIMEOUT  # s a call waits out its slot's migration (resharding)


class Place(Protocol):
    """Where a process's connections go (:class:`.pool.Shared`): its pool, a new blocking
    connection, and a new look-up of the server after a cluster moved the prefix's slot or
    its master became unreachable (failover)."""

    @property
    def client(self) -> Redis: ...

    @property
    def url(self) -> str: ...

    def blocking_client(self, role: str) -> Redis: ...

    async def relocate(self) -> None: ...


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


def new_client(
    target: RedisTarget, url: str = "", *, role: str = "", single: bool = False
) -> Redis:
    """A redis-py client for ``target`` (at ``url``: a cluster's node). Without ``role``: a
    pool of at most ``target.max_connections`` connections, callers waiting for a free one;
    with one (``wait``, ``events``; ``single`` means ``blocking``): one dedicated connection
    for blocking reads, outside the pool."""
    role = role or ("blocking" if single else "")
    options: dict[str, Any] = {
        "decode_responses": True,
        "retry": RedisRetry(ExponentialBackoff(cap=1.0, base=0.05), 5),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "client_name": f"{target.name}:{role}" if role else target.name,  # for CLIENT LIST
        # No per-read timeout: blocking readers (BZPOPMIN, XREAD BLOCK) wait longer than
        # redis-py's default 5 s, and script calls run under one asyncio timeout per pipeline
        # (COMMAND_TIMEOUT), which costs less than one per read.
        "socket_timeout": None,
    }
    url = url or target.client_url
    if role:
        dedicated: Redis = Redis.from_url(url, single_connection_client=True, **options)
        return dedicated
    pool = BlockingConnectionPool.from_url(
        url, max_connections=target.max_connections, timeout=None, **options
    )
    return Redis.from_pool(pool)


class Scripts:
    """Script calls written straight to a pooled connection as one RESP buffer and read back
    in order (a pipeline without redis-py's per-command packing and bookkeeping)."""

    def __init__(self, client: Redis, limit: int = DEFAULT_MAX_CONNECTIONS - 1) -> None:
        self.client = client
        self.limit = max(1, limit)  # pipelines in flight at once
        # Connections this object keeps between calls (the pool's own checkout costs more
        # than the call); one per pipeline in flight, so concurrency gets its own sockets.
        self._idle: list[tuple[Any, Any]] = []  # (connection, the pool it came from)
        self._busy = 0
        # A cluster moved the prefix's slot, or its master is unreachable: look it up again.
        self.relocate: Callable[[], Awaitable[None]] | None = None
        self._queued: list[tuple[Sequence[Call], asyncio.Future[list[Any]]]] = []
        self._senders: set[asyncio.Task[None]] = set()

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
        except connection errors, which raise for the whole batch. With ``limit`` pipelines
        in flight, waits and goes out with every other call queued meanwhile."""
        if self._busy >= self.limit:
            fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._queued.append((calls, fut))
            return await fut
        self._busy += 1
        try:
            return await self._pipeline(calls)
        finally:
            self._busy -= 1
            self._next()

    def _next(self) -> None:
        if self._queued and self._busy < self.limit:
            self._busy += 1
            batch, self._queued = self._queued, []
            task = asyncio.create_task(self._send_queued(batch), name="qgen-redis-queued")
            self._senders.add(task)
            task.add_done_callback(self._senders.discard)

    async def _send_queued(self, batch: list[tuple[Sequence[Call], asyncio.Future[Any]]]) -> None:
        try:
            results = await self._pipeline([call for calls, _ in batch for call in calls])
        except BaseException as exc:  # every caller sees it (connection lost: they retry)
            for _, fut in batch:
                if fut.done():
                    continue
                if isinstance(exc, Exception):
                    fut.set_exception(exc)
                else:
                    fut.cancel()
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._busy -= 1
            self._next()
        start = 0
        for calls, fut in batch:
            if not fut.done():
                fut.set_result(results[start : start + len(calls)])
            start += len(calls)

    async def _pipeline(self, calls: Sequence[Call]) -> list[Any]:
        try:
            results = await self._send(calls)
        except TRANSIENT:
            if self.relocate is not None:  # a cluster's master gone: its replica may take over
                await self.relocate()
            raise
        if self.relocate is not None:
            await self._follow_slot(calls, results, self.relocate)
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            await self.load()
            await self._again(calls, results, missing)
        return results

    async def _follow_slot(
        self, calls: Sequence[Call], results: list[Any], relocate: Callable[[], Awaitable[None]]
    ) -> None:
        """Calls a cluster refused, sent again. ``MOVED``: the prefix's slot has a new master;
        look it up and send there. ``TRYAGAIN`` (some of a script's keys moved) or ``ASK``
        (all of them): the slot is being migrated and the script did not run; send again,
        backing off, until the migration ends (then ``MOVED``) or :data:`MIGRATION_WAIT`
        passes (then the caller sees the answer)."""
        deadline = 0.0
        delay = 0.0
        while busy := [i for i, r in enumerate(results) if isinstance(r, AskError | TryAgainError)]:
            now = asyncio.get_running_loop().time()
            deadline = deadline or now + MIGRATION_WAIT
            if now >= deadline:
                return
            if any(isinstance(results[i], MovedError) for i in busy):  # MovedError is an AskError
                await relocate()  # at most once a second: MOVED again until it has run
            if delay:
                await asyncio.sleep(delay)
            delay = min(delay * 2 or 0.02, 0.5)
            await self._again(calls, results, busy)

    async def _again(self, calls: Sequence[Call], results: list[Any], which: list[int]) -> None:
        again = await self._send([calls[i] for i in which])
        for i, r in zip(which, again, strict=True):
            results[i] = r

    async def rebind(self, client: Redis) -> None:
        """Send through ``client`` from now on (the old pool's idle connections let go)."""
        self.client = client
        await self._drop_idle()

    async def _send(self, calls: Sequence[Call]) -> list[Any]:
        payload = b"".join(map(encode_evalsha, calls))
        last = len(RESEND_DELAYS) - 1
        for attempt, delay in enumerate(RESEND_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            conn = pool = None
            try:
                # After a failure, a connection from the pool (which checks it) instead of
                # another kept one: those mostly died with the first.
                kept = self._idle and not attempt
                conn, pool = self._idle.pop() if kept else await self._new_conn()
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    await conn.send_packed_command(payload, check_health=False)
                    results: list[Any] = []
                    for _ in calls:
                        try:
                            results.append(await conn.read_response())
                        except ResponseError as exc:
                            results.append(exc)
            except TRANSIENT as exc:
                # A connection that died (server restart, CLIENT KILL, a network blip): again
                # on a new one, backing off, but only once after a timeout (COMMAND_TIMEOUT is
                # long); a new one that cannot connect ends it (redis-py retried for ~2.5 s).
                # A call that did run is harmless to repeat for the worker's scripts (they
                # check the lock); an add without job_id may then be stored twice (at least
                # once).
                await self._drop_idle()
                if conn is None:  # no connection: redis-py already retried the connect
                    raise
                await self._drop(conn, pool)
                if attempt == last or (isinstance(exc, TimeoutError) and attempt):
                    raise
                continue
            except BaseException:
                if conn is not None:
                    await self._drop(conn, pool)
                raise
            if pool is self.client.connection_pool:
                self._idle.append((conn, pool))
            else:  # rebound meanwhile
                await self._drop(conn, pool)
            return results
        raise AssertionError("unreachable")

    async def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn, pool in idle:
            await self._drop(conn, pool)

    async def _new_conn(self) -> tuple[Any, Any]:
        pool = self.client.connection_pool
        return await pool.get_connection(), pool  # type: ignore[no-untyped-call]

    async def _drop(self, conn: Any, pool: Any) -> None:
        with contextlib.suppress(Exception):
            await conn.disconnect()
        with contextlib.suppress(Exception):
            await pool.release(conn)

    async def close(self) -> None:
        await asyncio.gather(*self._senders, return_exceptions=True)
        idle, self._idle = self._idle, []
        for conn, pool in idle:
            with contextlib.suppress(Exception):
                await pool.release(conn)


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

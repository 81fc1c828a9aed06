"""The Redis backend: real BullMQ queues, shared with Node BullMQ.

URL: ``redis://[user:pass@]host:6379/0[?prefix=bull]`` or ``rediss://...``; ``prefix`` is
BullMQ's key prefix (default ``bull``), every other query parameter goes to redis-py. Each qgen
queue is the BullMQ queue of the same name; jobs are named after their queue and their ``data``
is the payload as JSON, so Node BullMQ producers and workers interoperate (see redis_jobs.py for
how priority, attempts, failures and discards are stored).

Connections: the client side (add, get) has one pooled client, each consumer another, and each
blocking reader (the idle worker's marker wait, the event watcher) its own connection: bullmq's
bug #3401 showed what sharing one connection between producer and worker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from redis.asyncio import Redis
from redis.asyncio.retry import Retry as RedisRetry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qgen.runtime.backends.base import (
    JSON,
    AddOptions,
    Consumer,
    ErrorInfo,
    Handler,
    JobInfo,
    JobStatus,
    QueueSettings,
)
from qgen.runtime.backends.redis_events import EventWatcher, wait_event
from qgen.runtime.backends.redis_exec import COMMAND_TIMEOUT, ScriptError, Scripts
from qgen.runtime.backends.redis_jobs import JobBuilder, job_info
from qgen.runtime.backends.redis_keys import SCRIPTS, QueueKeys, RedisTarget, parse_url
from qgen.runtime.errors import JobNotFound, JobTimeout
from qgen.runtime.names import validate_queue_name

__all__ = ["RedisBackend"]


class RedisBackend:
    name: ClassVar[str] = "redis"

    def __init__(self, target: RedisTarget, queues: Mapping[str, Mapping[str, Any]]) -> None:
        self.target = target
        self.queues = {q: dict(c) for q, c in queues.items()}
        self.client = self.new_client()
        self.scripts = Scripts(self.client)
        self._keys: dict[str, QueueKeys] = {}
        self._builders: dict[str, JobBuilder] = {}
        self._watchers: dict[str, EventWatcher] = {}

    @classmethod
    async def connect(cls, url: str, queues: Mapping[str, Mapping[str, Any]]) -> Self:
        backend = cls(parse_url(url), queues)
        async with asyncio.timeout(COMMAND_TIMEOUT):
            await backend.client.ping()
        return backend

    def new_client(self, *, single: bool = False) -> Redis:
        retry = RedisRetry(ExponentialBackoff(cap=1.0, base=0.05), 5)
        client: Redis = Redis.from_url(
            self.target.client_url,
            decode_responses=True,
            retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            single_connection_client=single,
            client_name=f"qgen:{self.target.prefix}",  # CLIENT LIST shows who is connected
            # No per-read timeout: blocking readers (BZPOPMIN, XREAD BLOCK) wait longer than
            # redis-py's default 5 s, and script calls run under one asyncio timeout per
            # pipeline (redis_exec.COMMAND_TIMEOUT), which costs less than one per read.
            socket_timeout=None,
        )
        return client

    def scripts_for(self, client: Redis) -> Scripts:
        return Scripts(client)

    def keys_for(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(self.target.prefix, validate_queue_name(queue))
        return keys

    def builder(self, queue: str) -> JobBuilder:
        b = self._builders.get(queue)
        if b is None:
            b = self._builders[queue] = JobBuilder(self.keys_for(queue), self.queues.get(queue, {}))
        return b

    async def close(self) -> None:
        await self.scripts.close()
        for watcher in self._watchers.values():
            await watcher.close()
        self._watchers.clear()
        with contextlib.suppress(Exception):
            await self.client.aclose()

    # -- producing ---------------------------------------------------------------------------

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        name, keys, args = self.builder(queue).add_call(data, options)
        reply = await self.scripts.call(name, keys, args)
        return _job_id(name, reply)

    async def enqueue_many(self, queue: str, items: Sequence[tuple[JSON, AddOptions]]) -> list[str]:
        builder = self.builder(queue)
        calls = [builder.add_call(data, opts) for data, opts in items]
        out: list[str] = []
        for start in range(0, len(calls), 1000):
            chunk = calls[start : start + 1000]
            replies = await self.scripts.pipeline(chunk)
            for (name, _, _), reply in zip(chunk, replies, strict=True):
                if isinstance(reply, Exception):
                    raise reply
                out.append(_job_id(name, reply))
        return out

    # -- reading -----------------------------------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        keys = self.keys_for(queue)
        state_keys = keys.get_state()
        for _ in range(2):
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(keys.job(job_id))
            pipe.evalsha(
                SCRIPTS["getStateV2"].sha,
                len(state_keys),
                *state_keys,
                job_id,
                keys.job(job_id),
            )
            async with asyncio.timeout(COMMAND_TIMEOUT):
                fields, state = await pipe.execute(raise_on_error=False)
            if isinstance(state, NoScriptError):
                await self.scripts.load()
                continue
            if isinstance(fields, Exception):
                raise fields
            if isinstance(state, Exception):
                raise state
            if not fields:
                return None
            default = int(self.queues.get(queue, {}).get("attempts", 3))
            return job_info(queue, job_id, fields, str(state), default)
        raise RuntimeError("getStateV2 script could not be loaded")

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        watcher = self._watchers.get(queue)
        if watcher is None:
            watcher = EventWatcher(lambda: self.new_client(single=True), self.keys_for(queue))
            self._watchers[queue] = watcher

        async def check() -> JobInfo | None:
            info = await self.get(queue, job_id)
            if info is None:
                raise JobNotFound(queue, job_id)
            return info if info.status.finished else None

        try:
            found, event = await wait_event(watcher, job_id, check, timeout)
        except TimeoutError as exc:
            raise JobTimeout(
                f"job {job_id!r} on {queue!r} did not finish within {timeout} s"
            ) from exc
        if found is not None:
            assert isinstance(found, JobInfo)
            return found
        assert event is not None
        info = await self.get(queue, job_id)
        if info is not None and info.status.finished:
            return info
        return _from_event(queue, job_id, event)  # removed on completion: the event has it all

    def consume(self, queues: Sequence[QueueSettings], handle: Handler) -> Consumer:
        from qgen.runtime.backends.redis_consumer import RedisConsumer

        return RedisConsumer(self, queues, handle)


def _job_id(script: str, reply: Any) -> str:
    if isinstance(reply, int) and reply < 0:
        raise ScriptError(script, reply)
    return str(reply)


def _from_event(queue: str, job_id: str, event: Mapping[str, str]) -> JobInfo:
    if event.get("event") == "completed":
        raw = event.get("returnvalue")
        try:
            result = json.loads(raw) if raw else None
        except ValueError:
            result = raw
        return JobInfo(job_id, queue, JobStatus.COMPLETED, result=result)
    return JobInfo(
        job_id, queue, JobStatus.FAILED, error=ErrorInfo("Error", event.get("failedReason", ""))
    )

"""The Redis backend: real BullMQ queues, shared with Node BullMQ.

Each qgen queue is the BullMQ queue of the same name; jobs are named after their queue and their
``data`` is the payload as JSON, so Node BullMQ producers and workers interoperate (see
:mod:`.jobs` for how priority, attempts, failures and discards are stored). Nothing needs setting
up: BullMQ's keys are made as jobs are added.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

from redis.asyncio import Redis
from redis.exceptions import MovedError, NoScriptError

from qgen.runtime.backends.base import (
    JSON,
    AddOptions,
    ErrorInfo,
    Handler,
    JobInfo,
    JobStatus,
    Provisioned,
)
from qgen.runtime.backends.redis import depth, pool
from qgen.runtime.backends.redis.consumer import RedisLane, RedisNative
from qgen.runtime.backends.redis.events import wait_event
from qgen.runtime.backends.redis.jobs import Catalog, job_info
from qgen.runtime.backends.redis.ops import RedisOps
from qgen.runtime.backends.redis.schedulers import BullJobSchedulers
from qgen.runtime.backends.redis.scripts import SCRIPTS
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT, TRANSIENT, ScriptError
from qgen.runtime.backends.redis.url import RedisTarget, parse_url
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.errors import JobNotFound, JobTimeout
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs, QueueSettings, SettingsBook, for_backend

__all__ = ["RedisBackend"]


class RedisBackend(RedisOps):
    """The operator API (counts, lists, cancel, pause, ...) is :class:`.ops.RedisOps`."""

    name: ClassVar[str] = "redis"

    def __init__(self, target: RedisTarget, queues: QueueConfigs, shared: pool.Shared) -> None:
        self.target = target
        self.settings = SettingsBook(queues, self.name)
        self.catalog = Catalog(target.prefix, self.settings)
        self.shared = shared  # the process's connections (this event loop's), see pool
        self.scripts = shared.scripts
        self._closed = False

    @property
    def client(self) -> Redis:
        """The process's shared pool (a new one after a cluster moved the prefix's slot)."""
        return self.shared.client

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        target = parse_url(url)
        shared = await pool.acquire(target)
        backend = cls(target, queues, shared)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await backend.client.ping()
        except BaseException:
            await backend.close()
            raise
        return backend

    @classmethod
    async def provision(
        cls, url: str, queues: QueueConfigs, *, schedules: Sequence[Schedule] = ()
    ) -> Provisioned:
        parse_url(url)
        return Provisioned("nothing to set up: BullMQ makes its keys as jobs are added")

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.registry.close()
            await pool.release(self.shared)

    def job_schedulers(self) -> BullJobSchedulers:
        """Schedules stored as BullMQ job schedulers, as Node BullMQ stores them."""
        return BullJobSchedulers(lambda: self.client, lambda: self.shared.url, self.target.prefix)

    # -- producing ---------------------------------------------------------------------------

    def unreachable(self, exc: BaseException) -> bool:
        return isinstance(exc, TRANSIENT)  # after Scripts' own resends

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        name, keys, args = self.catalog.builder(queue).add_call(data, options)
        reply = await self.scripts.call(name, keys, args)
        return _job_id(name, reply)

    async def enqueue_many(self, queue: str, items: Sequence[tuple[JSON, AddOptions]]) -> list[str]:
        builder = self.catalog.builder(queue)
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

    async def oldest_waiting(self, queue: str) -> float | None:
        return await depth.oldest_waiting(self.client, self.catalog.keys(queue))

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        keys = self.catalog.keys(queue)
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
            pipe.zscore(keys.delayed, job_id)  # a delayed job's due time (retries included)
            try:
                async with asyncio.timeout(COMMAND_TIMEOUT):
                    fields, state, due = await pipe.execute(raise_on_error=False)
            except TRANSIENT:
                await self.shared.relocate()  # a cluster's master may have failed over
                raise
            if isinstance(state, NoScriptError):
                await self.scripts.load()
                continue
            if isinstance(state, MovedError) or isinstance(fields, MovedError):
                await self.shared.relocate()
                continue
            if isinstance(fields, Exception):
                raise fields
            if isinstance(state, Exception):
                raise state
            if not fields:
                return None
            default = self.settings[queue].attempts
            score = due if isinstance(due, int | float) else None
            return job_info(queue, job_id, fields, str(state), default, score)
        raise RuntimeError("getStateV2 script could not be loaded")

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        async def check() -> JobInfo | None:
            info = await self.get(queue, job_id)
            if info is None:
                raise JobNotFound(queue, job_id)
            return info if info.status.finished else None

        try:
            stream = self.catalog.keys(queue).events
            found, event = await wait_event(self.shared.events, stream, job_id, check, timeout)
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

    def consume(
        self, queues: Sequence[QueueSettings], handle: Handler
    ) -> ConsumerSkeleton[RedisLane]:
        queues = for_backend(queues, self.name)
        for settings in queues:
            self.settings.learn(settings)
        native = RedisNative(self.target, self.catalog)
        return ConsumerSkeleton(native, queues, handle)


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

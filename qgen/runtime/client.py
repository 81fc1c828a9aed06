"""Base of the generated clients: queues, job handles, validation before sending.

The signatures are the contract between the generated client (qgen/templates) and the
runtime; keep them.

The generated ``client.py`` subclasses :class:`AsyncClientBase` and :class:`ClientBase`, sets
``QUEUES`` (one :class:`QueueMeta` per queue, with the generated pydantic models) and
``DEFAULT_URL``, and adds typed accessors and overloads, e.g.::

    class AsyncQueueClient(AsyncClientBase):
        QUEUES = QUEUES
        @property
        def payments(self) -> AsyncQueue[models.PaymentRequest, models.PaymentResult]:
            return self.queue("payments")
        @overload
        async def add(self, queue: Literal["payments"], data: PaymentsInput, *, job_id=...,
                      ...) -> AsyncJobHandle[models.PaymentResult]: ...
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from qgen.runtime.backends import open_backend
from qgen.runtime.backends.base import Backend, JobInfo, JobStatus
from qgen.runtime.capabilities import Feature, backend_for_url, supports
from qgen.runtime.errors import (
    ConfigError,
    JobFailedError,
    JobNotFound,
    UnsupportedByBackend,
)
from qgen.runtime.interaction import Progress
from qgen.runtime.names import validate_lookup_id
from qgen.runtime.payloads import Adapters, add_options
from qgen.runtime.wiring import BackoffConfig

InT = TypeVar("InT")
OutT = TypeVar("OutT")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class QueueMeta:
    name: str
    input_type: Any  # anything pydantic.TypeAdapter accepts: the generated model or type
    output_type: Any  # None when the queue's function returns no result
    config: Mapping[str, Any]  # normalized config from the manifest (attempts, backoff, ...)


class AsyncJobHandle(Generic[OutT]):
    """A job added to a queue. Cheap to create; every method asks the backend."""

    def __init__(self, client: AsyncClientBase, queue: str, job_id: str) -> None:
        self.client, self.queue, self.id = client, queue, job_id

    async def info(self) -> JobInfo:
        """Everything the backend knows; raises JobNotFound."""
        backend = await self.client._connect()
        info = await backend.get(self.queue, self.id)
        if info is None:
            raise JobNotFound(self.queue, self.id)
        return info

    async def status(self) -> JobStatus:
        return (await self.info()).status

    async def progress(self) -> Progress | None:
        return (await self.info()).progress

    async def result(self, timeout: float | None = None) -> OutT:
        """Wait for the job to finish and return its result, validated into the output type.
        Raises JobFailedError if it failed or was discarded, JobTimeout after ``timeout`` s,
        UnsupportedByBackend where the backend keeps no results (SQS)."""
        name = self.client.backend_name
        if not supports(Feature.RESULTS, name):
            raise UnsupportedByBackend(name, "job results")
        backend = await self.client._connect()
        info = await backend.wait(self.queue, self.id, timeout)
        if info.status in (JobStatus.FAILED, JobStatus.DISCARDED):
            err_type = info.error.type if info.error else "Error"
            message = info.error.message if info.error else ""
            discarded = info.status is JobStatus.DISCARDED
            if discarded and info.error is None:
                err_type = "Discarded"
            raise JobFailedError(self.queue, self.id, err_type, message, discarded=discarded)
        adapters = self.client._adapters(self.queue)
        if adapters.output is None:
            return None  # type: ignore[return-value]  # OutT is None for such queues
        value: OutT = adapters.output.validate_python(info.result)
        return value

    def __repr__(self) -> str:
        return f"<AsyncJobHandle {self.queue}/{self.id}>"


class JobHandle(Generic[OutT]):
    """Blocking twin of :class:`AsyncJobHandle`."""

    def __init__(self, client: ClientBase, queue: str, job_id: str) -> None:
        self.client, self.queue, self.id = client, queue, job_id

    def _async(self) -> AsyncJobHandle[OutT]:
        return AsyncJobHandle(self.client._core, self.queue, self.id)

    def info(self) -> JobInfo:
        return self.client._run(self._async().info())

    def status(self) -> JobStatus:
        return self.client._run(self._async().status())

    def progress(self) -> Progress | None:
        return self.client._run(self._async().progress())

    def result(self, timeout: float | None = None) -> OutT:
        return self.client._run(self._async().result(timeout))

    def __repr__(self) -> str:
        return f"<JobHandle {self.queue}/{self.id}>"


class AsyncQueue(Generic[InT, OutT]):
    def __init__(self, client: AsyncClientBase, meta: QueueMeta) -> None:
        self.client, self.meta = client, meta

    @property
    def name(self) -> str:
        return self.meta.name

    async def add(
        self,
        data: InT,
        *,
        job_id: str | None = None,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        attempts: int | None = None,
        backoff: BackoffConfig | None = None,
        **backend_options: Any,
    ) -> AsyncJobHandle[OutT]:
        """Validate ``data`` (raises ValidationFailed, nothing written) and add one job.
        ``backend_options``: ``connection`` (postgres: join the caller's transaction),
        ``group`` (SQS FIFO message group)."""
        payload = self.client._adapters(self.meta.name).prepare(data)
        options = add_options(
            job_id=job_id,
            delay=delay,
            priority=priority,
            attempts=attempts,
            backoff=backoff,
            extra=backend_options,
        )
        backend = await self.client._connect()
        new_id = await backend.enqueue(self.meta.name, payload, options)
        return AsyncJobHandle(self.client, self.meta.name, new_id)

    async def add_many(
        self,
        items: Iterable[InT],
        *,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        attempts: int | None = None,
        backoff: BackoffConfig | None = None,
        **backend_options: Any,
    ) -> list[AsyncJobHandle[OutT]]:
        """Validate every item first (one bad item: ValidationFailed, nothing written)."""
        adapters = self.client._adapters(self.meta.name)
        payloads = [adapters.prepare(item) for item in items]
        options = add_options(
            delay=delay,
            priority=priority,
            attempts=attempts,
            backoff=backoff,
            extra=backend_options,
        )
        if not payloads:
            return []
        backend = await self.client._connect()
        ids = await backend.enqueue_many(self.meta.name, [(p, options) for p in payloads])
        return [AsyncJobHandle(self.client, self.meta.name, i) for i in ids]

    def get(self, job_id: str) -> AsyncJobHandle[OutT]:
        return AsyncJobHandle(self.client, self.meta.name, validate_lookup_id(job_id))


class Queue(Generic[InT, OutT]):
    """Blocking twin of :class:`AsyncQueue`."""

    def __init__(self, client: ClientBase, meta: QueueMeta) -> None:
        self.client, self.meta = client, meta

    @property
    def name(self) -> str:
        return self.meta.name

    def _async(self) -> AsyncQueue[InT, OutT]:
        return AsyncQueue(self.client._core, self.meta)

    def add(
        self,
        data: InT,
        *,
        job_id: str | None = None,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        attempts: int | None = None,
        backoff: BackoffConfig | None = None,
        **backend_options: Any,
    ) -> JobHandle[OutT]:
        handle = self.client._run(
            self._async().add(
                data,
                job_id=job_id,
                delay=delay,
                priority=priority,
                attempts=attempts,
                backoff=backoff,
                **backend_options,
            )
        )
        return JobHandle(self.client, self.meta.name, handle.id)

    def add_many(
        self,
        items: Iterable[InT],
        *,
        delay: float | dt.timedelta | None = None,
        priority: int | None = None,
        attempts: int | None = None,
        backoff: BackoffConfig | None = None,
        **backend_options: Any,
    ) -> list[JobHandle[OutT]]:
        handles = self.client._run(
            self._async().add_many(
                items,
                delay=delay,
                priority=priority,
                attempts=attempts,
                backoff=backoff,
                **backend_options,
            )
        )
        return [JobHandle(self.client, self.meta.name, h.id) for h in handles]

    def get(self, job_id: str) -> JobHandle[OutT]:
        return JobHandle(self.client, self.meta.name, validate_lookup_id(job_id))


def _resolve_url(url: str | None, default: str | None) -> str:
    resolved = url or os.environ.get("QGEN_URL") or default
    if not resolved:
        raise ConfigError("no queue URL: pass one, or set QGEN_URL")
    return resolved


class AsyncClientBase:
    """Connects lazily on first use. URL: the argument, else ``$QGEN_URL``, else the project's
    embedded SQLite file (``DEFAULT_URL``)."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init__(self, url: str | None = None) -> None:
        self._init(_resolve_url(url, self.DEFAULT_URL), self.QUEUES)

    def _init(self, url: str, queues: Mapping[str, QueueMeta]) -> None:
        self.url = url
        self.backend_name = backend_for_url(url)
        self._metas = dict(queues)
        self._backend: Backend | None = None
        self._lock = asyncio.Lock()
        self._adapter_cache: dict[str, Adapters] = {}
        self._queue_cache: dict[str, AsyncQueue[Any, Any]] = {}

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def _meta(self, name: str) -> QueueMeta:
        meta = self._metas.get(name)
        if meta is None:
            known = ", ".join(sorted(self._metas)) or "none"
            raise ConfigError(f"unknown queue {name!r}; known queues: {known}")
        return meta

    def _adapters(self, name: str) -> Adapters:
        adapters = self._adapter_cache.get(name)
        if adapters is None:
            adapters = self._adapter_cache[name] = Adapters(self._meta(name))
        return adapters

    async def _connect(self) -> Backend:
        if self._backend is None:
            async with self._lock:
                if self._backend is None:
                    configs = {q: dict(m.config) for q, m in self._metas.items()}
                    self._backend = await open_backend(self.url, configs)
        return self._backend

    def queue(self, name: str) -> AsyncQueue[Any, Any]:
        q = self._queue_cache.get(name)
        if q is None:
            q = self._queue_cache[name] = AsyncQueue(self, self._meta(name))
        return q

    async def add(self, queue: str, data: Any, **options: Any) -> AsyncJobHandle[Any]:
        return await self.queue(queue).add(data, **options)

    async def close(self) -> None:
        async with self._lock:
            backend, self._backend = self._backend, None
            if backend is not None:
                await backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Core(AsyncClientBase):
    """The async engine inside a blocking client."""

    def __init__(self, url: str, queues: Mapping[str, QueueMeta]) -> None:
        self._init(url, queues)


class ClientBase:
    """Blocking client: runs the async backend on a private event loop (no thread hop), so it
    must not be called from inside a running event loop; use the async client there."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init__(self, url: str | None = None) -> None:
        self._core = _Core(_resolve_url(url, self.DEFAULT_URL), self.QUEUES)
        self.url = self._core.url
        self.backend_name = self._core.backend_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_lock = threading.Lock()
        self._queue_cache: dict[str, Queue[Any, Any]] = {}

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "the blocking qgen client was called inside a running event loop; "
                "use the async client (AsyncQueueClient) there"
            )
        with self._run_lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coro)

    def queue(self, name: str) -> Queue[Any, Any]:
        q = self._queue_cache.get(name)
        if q is None:
            q = self._queue_cache[name] = Queue(self, self._core._meta(name))
        return q

    def add(self, queue: str, data: Any, **options: Any) -> JobHandle[Any]:
        return self.queue(queue).add(data, **options)

    def close(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        try:
            self._run(self._core.close())
        finally:
            with self._run_lock:
                loop, self._loop = self._loop, None
                if loop is not None:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

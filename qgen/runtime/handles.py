"""A queue and a job as the client sees them: :class:`AsyncQueue` / :class:`Queue` (add, add
many, get) and :class:`AsyncJobHandle` / :class:`JobHandle` (status, progress, result), each
with its blocking twin, and :class:`QueueMeta`, what a client knows of one queue.

The clients (``qgen.runtime.client``) make them; they reach the backend through the client.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from qgen.runtime.backends.base import Backend, JobInfo, JobStatus
from qgen.runtime.capabilities import Feature, supports
from qgen.runtime.errors import JobFailedError, JobNotFound, UnsupportedByBackend
from qgen.runtime.interaction import Progress
from qgen.runtime.names import validate_lookup_id
from qgen.runtime.options import BackoffConfig
from qgen.runtime.payloads import Adapters, add_options, check_backend_options

if TYPE_CHECKING:
    from qgen.runtime.job_options import PgConnection

InT = TypeVar("InT")
OutT = TypeVar("OutT")
T = TypeVar("T")


class AsyncClientView(Protocol):
    """What queues and handles use of an async client (``client.AsyncClientBase``; that module
    imports this one, so it is named here by its shape)."""

    @property
    def backend_name(self) -> str: ...

    async def _connect(self) -> Backend: ...

    def _adapters(self, name: str) -> Adapters: ...


class ClientView(Protocol):
    """What queues and handles use of a blocking client (``client.ClientBase``)."""

    @property
    def _core(self) -> AsyncClientView: ...

    def _run(self, coro: Coroutine[Any, Any, T]) -> T: ...


@dataclass(frozen=True, slots=True)
class QueueMeta:
    name: str
    input_type: Any  # anything pydantic.TypeAdapter accepts: the generated model or type
    output_type: Any  # None when the queue's function returns no result
    config: Mapping[str, Any]  # normalized config from the manifest (attempts, backoff, ...)


class AsyncJobHandle(Generic[OutT]):
    """A job added to a queue. Cheap to create; every method asks the backend."""

    def __init__(self, client: AsyncClientView, queue: str, job_id: str) -> None:
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

    def __init__(self, client: ClientView, queue: str, job_id: str) -> None:
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
    def __init__(self, client: AsyncClientView, meta: QueueMeta) -> None:
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
        connection: PgConnection | None = None,
        group: str | None = None,
    ) -> AsyncJobHandle[OutT]:
        """Validate ``data`` (raises ValidationFailed, nothing written) and add one job.
        ``connection`` (PostgreSQL) joins the caller's transaction; ``group`` is the SQS FIFO
        message group; other backends refuse them (UnsupportedByBackend)."""
        extra = check_backend_options(
            self.client.backend_name, self.meta.name, connection=connection, group=group
        )
        payload = self.client._adapters(self.meta.name).prepare(data)
        options = add_options(
            job_id=job_id,
            delay=delay,
            priority=priority,
            attempts=attempts,
            backoff=backoff,
            extra=extra,
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
        connection: PgConnection | None = None,
        group: str | None = None,
    ) -> list[AsyncJobHandle[OutT]]:
        """Validate every item first (one bad item: ValidationFailed, nothing written)."""
        extra = check_backend_options(
            self.client.backend_name, self.meta.name, connection=connection, group=group
        )
        adapters = self.client._adapters(self.meta.name)
        payloads = [adapters.prepare(item) for item in items]
        options = add_options(
            delay=delay,
            priority=priority,
            attempts=attempts,
            backoff=backoff,
            extra=extra,
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

    def __init__(self, client: ClientView, meta: QueueMeta) -> None:
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
        connection: PgConnection | None = None,
        group: str | None = None,
    ) -> JobHandle[OutT]:
        handle = self.client._run(
            self._async().add(
                data,
                job_id=job_id,
                delay=delay,
                priority=priority,
                attempts=attempts,
                backoff=backoff,
                connection=connection,
                group=group,
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
        connection: PgConnection | None = None,
        group: str | None = None,
    ) -> list[JobHandle[OutT]]:
        handles = self.client._run(
            self._async().add_many(
                items,
                delay=delay,
                priority=priority,
                attempts=attempts,
                backoff=backoff,
                connection=connection,
                group=group,
            )
        )
        return [JobHandle(self.client, self.meta.name, h.id) for h in handles]

    def get(self, job_id: str) -> JobHandle[OutT]:
        return JobHandle(self.client, self.meta.name, validate_lookup_id(job_id))

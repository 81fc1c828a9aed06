"""Base of the generated clients: queues, job handles, validation before sending.

SKELETON: signatures are the contract between the generated client (qgen/templates) and the
runtime; bodies are filled in by the runtime work. Keep the signatures.

The generated ``client.py`` subclasses :class:`AsyncClientBase` and :class:`ClientBase`, sets
``QUEUES`` (one :class:`QueueMeta` per queue, with the generated pydantic models) and
``DEFAULT_URL_FACTORY``, and adds typed accessors and overloads, e.g.::

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

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.interaction import Progress
from qgen.runtime.wiring import BackoffConfig

InT = TypeVar("InT")
OutT = TypeVar("OutT")


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
        raise NotImplementedError

    async def status(self) -> JobStatus:
        raise NotImplementedError

    async def progress(self) -> Progress | None:
        raise NotImplementedError

    async def result(self, timeout: float | None = None) -> OutT:
        """Wait for the job to finish and return its result, validated into the output type.
        Raises JobFailedError if it failed or was discarded, JobTimeout after ``timeout`` s,
        UnsupportedByBackend where the backend keeps no results (SQS)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<AsyncJobHandle {self.queue}/{self.id}>"


class JobHandle(Generic[OutT]):
    """Blocking twin of :class:`AsyncJobHandle`."""

    def __init__(self, client: ClientBase, queue: str, job_id: str) -> None:
        self.client, self.queue, self.id = client, queue, job_id

    def info(self) -> JobInfo:
        raise NotImplementedError

    def status(self) -> JobStatus:
        raise NotImplementedError

    def progress(self) -> Progress | None:
        raise NotImplementedError

    def result(self, timeout: float | None = None) -> OutT:
        raise NotImplementedError

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
        raise NotImplementedError

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
        raise NotImplementedError

    def get(self, job_id: str) -> AsyncJobHandle[OutT]:
        return AsyncJobHandle(self.client, self.meta.name, job_id)


class Queue(Generic[InT, OutT]):
    """Blocking twin of :class:`AsyncQueue`."""

    def __init__(self, client: ClientBase, meta: QueueMeta) -> None:
        self.client, self.meta = client, meta

    @property
    def name(self) -> str:
        return self.meta.name

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
        raise NotImplementedError

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
        raise NotImplementedError

    def get(self, job_id: str) -> JobHandle[OutT]:
        return JobHandle(self.client, self.meta.name, job_id)


class AsyncClientBase:
    """Connects lazily on first use. URL: the argument, else ``$QGEN_URL``, else the project's
    embedded SQLite file (``DEFAULT_URL``)."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init__(self, url: str | None = None) -> None:
        raise NotImplementedError

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def queue(self, name: str) -> AsyncQueue[Any, Any]:
        raise NotImplementedError

    async def add(self, queue: str, data: Any, **options: Any) -> AsyncJobHandle[Any]:
        return await self.queue(queue).add(data, **options)

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ClientBase:
    """Blocking client: runs the async backend on a private event loop (no thread hop), so it
    must not be called from inside a running event loop; use the async client there."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init__(self, url: str | None = None) -> None:
        raise NotImplementedError

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def queue(self, name: str) -> Queue[Any, Any]:
        raise NotImplementedError

    def add(self, queue: str, data: Any, **options: Any) -> JobHandle[Any]:
        return self.queue(queue).add(data, **options)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

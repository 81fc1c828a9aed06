"""A queue and a job as the client sees them: :class:`AsyncQueue` / :class:`Queue` (add, add
many, get, and the operator methods of :mod:`.queue_ops`) and :class:`AsyncJobHandle` /
:class:`JobHandle` (status, progress, result, cancel, retry), each with its blocking twin.

The clients (``qgen.runtime.client``) make them; they reach the backend through the client.
``AsyncQueue[Data, Output, Model]``: what ``add`` takes (the model or its dict form), what
``result`` gives, and the model listed jobs' data is validated into (``Any`` when left out).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from qgen.runtime import telemetry
from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.backends.ops import WORKER_LISTED_FOR
from qgen.runtime.capabilities import Feature, supports
from qgen.runtime.client_types import AsyncClientView, ClientView, QueueMeta
from qgen.runtime.errors import JobFailedError, JobNotFound, JobTimeout, UnsupportedByBackend
from qgen.runtime.interaction import Progress
from qgen.runtime.names import validate_lookup_id
from qgen.runtime.options import BackoffConfig
from qgen.runtime.payloads import add_options, check_backend_options
from qgen.runtime.queue_ops import AsyncQueueOps, QueueOps, backend_for
from qgen.runtime.urls import mask_url

if TYPE_CHECKING:
    from qgen.runtime.job_options import PgConnection

__all__ = ["AsyncJobHandle", "AsyncQueue", "JobHandle", "Queue", "QueueMeta"]

InT = TypeVar("InT")
OutT = TypeVar("OutT")
ModelT = TypeVar("ModelT", default=Any)


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
        Raises JobFailedError if it failed, was discarded or cancelled; JobTimeout after
        ``timeout`` s (saying whether any worker of the queue was seen at this URL);
        UnsupportedByBackend where the backend keeps no results (SQS)."""
        name = self.client.backend_name
        if not supports(Feature.RESULTS, name):
            raise UnsupportedByBackend(name, "job results")
        backend = await self.client._connect()
        try:
            info = await backend.wait(self.queue, self.id, timeout)
        except JobTimeout as exc:
            raise await self._explained(exc) from None
        if info.status in (JobStatus.FAILED, JobStatus.DISCARDED, JobStatus.CANCELLED):
            raise _failure(info)
        adapters = self.client._adapters(self.queue)
        if adapters.output is None:
            return None  # type: ignore[return-value]  # OutT is None for such queues
        value: OutT = adapters.output.validate_python(info.result)
        return value

    async def cancel(self) -> bool:
        """Cancel the job: waiting or delayed, it never starts; running, it is asked to stop
        (async jobs see their task cancelled, all see ``interaction.queue.cancelled``) and ends
        ``cancelled`` without retry or dead letter. False when it had already finished."""
        backend = await backend_for(self.client, Feature.CANCEL, "cancelling a job")
        return await backend.cancel(self.queue, self.id)

    async def retry(self) -> bool:
        """Run a failed, discarded or cancelled job again with a fresh attempt count; False
        for a job in any other state."""
        backend = await backend_for(self.client, Feature.RETRY, "retrying a job")
        return await backend.retry(self.queue, self.id)

    async def _explained(self, exc: JobTimeout) -> JobTimeout:
        """The timeout, saying whether any worker of this queue was seen at this URL."""
        if not supports(Feature.WORKERS, self.client.backend_name):
            return exc
        try:
            backend = await self.client._connect()
            seen = len(await backend.workers(self.queue))
        except Exception:  # the explanation must not hide the timeout
            return exc
        where = mask_url(self.client.url)
        if seen:
            note = f"{seen} worker(s) of queue {self.queue!r} are running at {where}"
        else:
            note = (
                f"no worker of queue {self.queue!r} was seen at {where} in the last "
                f"{WORKER_LISTED_FOR:g} s: is one running, and on this URL?"
            )
        explained = JobTimeout(f"{exc}; {note}")
        explained.workers_seen = seen
        return explained

    def __repr__(self) -> str:
        return f"<AsyncJobHandle {self.queue}/{self.id}>"


def _failure(info: JobInfo) -> JobFailedError:
    err_type = info.error.type if info.error else "Error"
    message = info.error.message if info.error else ""
    discarded = info.status is JobStatus.DISCARDED
    cancelled = info.status is JobStatus.CANCELLED
    if info.error is None and (discarded or cancelled):
        err_type = "Cancelled" if cancelled else "Discarded"
    return JobFailedError(info.queue, info.id, err_type, message, discarded, cancelled)


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

    def cancel(self) -> bool:
        return self.client._run(self._async().cancel())

    def retry(self) -> bool:
        return self.client._run(self._async().retry())

    def __repr__(self) -> str:
        return f"<JobHandle {self.queue}/{self.id}>"


class AsyncQueue(AsyncQueueOps[ModelT, OutT], Generic[InT, OutT, ModelT]):
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
        if (traced := telemetry.producer()) is None:
            new_id = await backend.enqueue(self.meta.name, payload, options)
        else:  # a producer span, its trace context stored with the job
            name = self.client.backend_name
            new_id = await traced.enqueue(backend, name, self.meta.name, payload, options)
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
        jobs = [(p, options) for p in payloads]
        if (traced := telemetry.producer()) is None:
            ids = await backend.enqueue_many(self.meta.name, jobs)
        else:
            name = self.client.backend_name
            ids = await traced.enqueue_many(backend, name, self.meta.name, jobs)
        return [AsyncJobHandle(self.client, self.meta.name, i) for i in ids]

    def get(self, job_id: str) -> AsyncJobHandle[OutT]:
        return AsyncJobHandle(self.client, self.meta.name, validate_lookup_id(job_id))


class Queue(QueueOps[ModelT, OutT], Generic[InT, OutT, ModelT]):
    """Blocking twin of :class:`AsyncQueue`."""

    def __init__(self, client: ClientView, meta: QueueMeta) -> None:
        self.client, self.meta = client, meta

    @property
    def name(self) -> str:
        return self.meta.name

    def _async(self) -> AsyncQueue[InT, OutT, ModelT]:
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

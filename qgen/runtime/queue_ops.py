"""The operator API of the client (issue 14): per queue (counts, jobs, retry_failed, pause,
resume, is_paused, clean, redrive) and per job (cancel, retry), async with blocking twins.

Mixed into :class:`~qgen.runtime.handles.AsyncQueue` / ``Queue`` and the job handles. Every
operation first reads the capability table: one the backend cannot do raises
UnsupportedByBackend with the table's reason, before anything is sent. Arguments are checked
here (ConfigError), the same for every backend.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, TypeVar

from qgen.runtime.backends.base import Backend, JobStatus
from qgen.runtime.backends.ops import QueueCounts, RedriveReport, decode_cursor
from qgen.runtime.capabilities import Feature, feature
from qgen.runtime.client_types import AsyncClientView, ClientView, QueueMeta
from qgen.runtime.config_keys import MAX_COUNT, MAX_DELAY_S
from qgen.runtime.errors import ConfigError, UnsupportedByBackend, ValidationFailed
from qgen.runtime.jobviews import JobPage, JobView

ModelT = TypeVar("ModelT")
OutT = TypeVar("OutT")

MAX_PAGE = 1000
FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DISCARDED, JobStatus.CANCELLED)


async def backend_for(client: AsyncClientView, feat: Feature, what: str) -> Backend:
    """The connected backend, once the capability table says it can do ``feat``."""
    support = feature(feat, client.backend_name)
    if not support.supported:
        raise UnsupportedByBackend(client.backend_name, what, support.note)
    backend = await client._connect()
    # While a backend's operator methods are being written, say so instead of AttributeError.
    if not hasattr(backend, _METHOD[feat]):
        raise UnsupportedByBackend(client.backend_name, what, "not implemented in this release")
    return backend


_METHOD = {
    Feature.COUNTS: "counts",
    Feature.LIST_JOBS: "list_jobs",
    Feature.RETRY: "retry",
    Feature.PAUSE: "pause",
    Feature.CLEAN: "clean",
    Feature.REDRIVE: "redrive",
    Feature.CANCEL: "cancel",
    Feature.WORKERS: "workers",
}


def check_status(status: JobStatus | str) -> JobStatus:
    try:
        value = JobStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in JobStatus if s is not JobStatus.UNKNOWN)
        raise ConfigError(f"unknown job status {status!r}; known: {known}") from None
    if value is JobStatus.UNKNOWN:
        raise ConfigError("'unknown' is not a status jobs can be listed or cleaned by")
    return value


def check_count(value: object, what: str, minimum: int = 0, maximum: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigError(f"{what} must be an integer from {minimum} to {maximum}, not {value!r}")
    return value


def check_age(value: object) -> float:
    """``older_than``: seconds or a timedelta, from 0 to 10 years."""
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ConfigError(f"older_than must be seconds or a timedelta, not {value!r}")
    if not 0 <= seconds <= MAX_DELAY_S:  # also refuses NaN
        raise ConfigError(f"older_than must be from 0 to {MAX_DELAY_S} s, not {value!r}")
    return float(seconds)


class AsyncQueueOps(Generic[ModelT, OutT]):
    """Operator methods of one queue; ``ModelT`` is the queue's generated input model."""

    client: AsyncClientView
    meta: QueueMeta

    async def counts(self) -> QueueCounts:
        """Jobs per status and whether the queue is paused (estimates on SQS)."""
        backend = await backend_for(self.client, Feature.COUNTS, "job counts")
        return await backend.counts(self.meta.name)

    async def jobs(
        self,
        status: JobStatus | str = JobStatus.WAITING,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage[ModelT, OutT]:
        """One page of the jobs in ``status``, newest first, data and results typed. Pass the
        page's ``next_cursor`` for the next one: stable while jobs move or arrive."""
        wanted = check_status(status)
        check_count(limit, "limit", 1, MAX_PAGE)
        if cursor is not None:
            decode_cursor(cursor)
        backend = await backend_for(self.client, Feature.LIST_JOBS, "listing jobs")
        infos, next_cursor = await backend.list_jobs(self.meta.name, wanted, limit, cursor)
        adapters = self.client._adapters(self.meta.name)
        views: list[JobView[ModelT, OutT]] = [JobView.of(info, adapters) for info in infos]
        return JobPage(views, next_cursor)

    async def retry_failed(self, limit: int | None = None) -> int:
        """Every failed job (oldest first, at most ``limit``) runs again with fresh attempts;
        returns how many."""
        if limit is not None:
            check_count(limit, "limit")
        backend = await backend_for(self.client, Feature.RETRY, "retrying failed jobs")
        return await backend.retry_all(self.meta.name, limit)

    async def pause(self) -> None:
        """Workers stop taking new jobs of this queue within one poll; running ones finish;
        adds still work."""
        backend = await backend_for(self.client, Feature.PAUSE, "pausing a queue")
        await backend.pause(self.meta.name)

    async def resume(self) -> None:
        backend = await backend_for(self.client, Feature.PAUSE, "resuming a queue")
        await backend.resume(self.meta.name)

    async def is_paused(self) -> bool:
        backend = await backend_for(self.client, Feature.PAUSE, "pausing a queue")
        return await backend.is_paused(self.meta.name)

    async def clean(
        self,
        status: JobStatus | str,
        older_than: float | dt.timedelta | None = None,
        keep: int | None = None,
    ) -> int:
        """Delete finished jobs in ``status`` that finished over ``older_than`` ago (None: any
        age), keeping the newest ``keep``; returns how many were deleted."""
        wanted = check_status(status)
        if wanted not in FINISHED:
            names = ", ".join(s.value for s in FINISHED)
            raise ConfigError(f"clean takes a finished status ({names}), not {wanted.value!r}")
        age = None if older_than is None else check_age(older_than)
        if keep is not None:
            check_count(keep, "keep")
        backend = await backend_for(self.client, Feature.CLEAN, "cleaning jobs")
        return await backend.clean(self.meta.name, wanted, age, keep)

    async def redrive(self, limit: int | None = None, dry_run: bool = False) -> RedriveReport:
        """Move this queue's dead-lettered jobs (from its ``dead_letter`` queue) back to it,
        each validated against this queue's input type first: jobs that no longer validate
        stay and are listed in ``kept`` with the error."""
        dead_letter = self.meta.config.get("dead_letter")
        if not dead_letter:
            raise ConfigError(f"queue {self.meta.name!r} has no dead_letter queue to redrive")
        if limit is not None:
            check_count(limit, "limit")
        backend = await backend_for(self.client, Feature.REDRIVE, "redriving dead letters")
        adapters = self.client._adapters(self.meta.name)

        def validate(data: Any) -> str | None:
            try:
                adapters.prepare(data)
            except ValidationFailed as exc:
                return str(exc)
            return None

        return await backend.redrive(dead_letter, self.meta.name, limit, validate, dry_run)


class QueueOps(Generic[ModelT, OutT]):
    """Blocking twin of :class:`AsyncQueueOps`."""

    client: ClientView
    meta: QueueMeta

    def _ops(self) -> AsyncQueueOps[ModelT, OutT]:
        ops: AsyncQueueOps[ModelT, OutT] = AsyncQueueOps()
        ops.client, ops.meta = self.client._core, self.meta
        return ops

    def counts(self) -> QueueCounts:
        return self.client._run(self._ops().counts())

    def jobs(
        self,
        status: JobStatus | str = JobStatus.WAITING,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage[ModelT, OutT]:
        return self.client._run(self._ops().jobs(status, limit, cursor))

    def retry_failed(self, limit: int | None = None) -> int:
        return self.client._run(self._ops().retry_failed(limit))

    def pause(self) -> None:
        self.client._run(self._ops().pause())

    def resume(self) -> None:
        self.client._run(self._ops().resume())

    def is_paused(self) -> bool:
        return self.client._run(self._ops().is_paused())

    def clean(
        self,
        status: JobStatus | str,
        older_than: float | dt.timedelta | None = None,
        keep: int | None = None,
    ) -> int:
        return self.client._run(self._ops().clean(status, older_than, keep))

    def redrive(self, limit: int | None = None, dry_run: bool = False) -> RedriveReport:
        return self.client._run(self._ops().redrive(limit, dry_run))

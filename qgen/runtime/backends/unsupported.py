"""Operator methods that refuse with the capability table's reason (issue 14): a backend
inherits :class:`UnsupportedOps` and overrides what it implements."""

from __future__ import annotations

from typing import ClassVar

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.backends.ops import QueueCounts, RedriveReport, Validate, WorkerInfo
from qgen.runtime.capabilities import Feature, feature
from qgen.runtime.errors import UnsupportedByBackend


def unsupported(backend: str, feat: Feature, what: str) -> UnsupportedByBackend:
    """The error for an operation the capability table marks unsupported, with its reason."""
    return UnsupportedByBackend(backend, what, feature(feat, backend).note)


class UnsupportedOps:
    """Operator methods that refuse with the capability table's reason. A backend inherits it
    and overrides what it implements, so an operation it lacks is a clear error, never an
    AttributeError. The semantics of each method are in ``base.Backend``."""

    name: ClassVar[str]

    async def counts(self, queue: str) -> QueueCounts:
        raise unsupported(self.name, Feature.COUNTS, "job counts")

    async def oldest_waiting(self, queue: str) -> float | None:
        """When the oldest waiting job of ``queue`` was added (epoch s); None: none waits.
        Read by the worker's metrics sampler (issue 17)."""
        raise UnsupportedByBackend(self.name, "the age of the oldest waiting job")

    async def list_jobs(
        self, queue: str, status: JobStatus, limit: int, cursor: str | None
    ) -> tuple[list[JobInfo], str | None]:
        raise unsupported(self.name, Feature.LIST_JOBS, "listing jobs")

    async def cancel(self, queue: str, job_id: str) -> bool:
        raise unsupported(self.name, Feature.CANCEL, "cancelling a job")

    async def retry(self, queue: str, job_id: str) -> bool:
        raise unsupported(self.name, Feature.RETRY, "retrying a job")

    async def retry_all(self, queue: str, limit: int | None) -> int:
        raise unsupported(self.name, Feature.RETRY, "retrying failed jobs")

    async def pause(self, queue: str) -> None:
        raise unsupported(self.name, Feature.PAUSE, "pausing a queue")

    async def resume(self, queue: str) -> None:
        raise unsupported(self.name, Feature.PAUSE, "resuming a queue")

    async def is_paused(self, queue: str) -> bool:
        raise unsupported(self.name, Feature.PAUSE, "pausing a queue")

    async def clean(
        self, queue: str, status: JobStatus, older_than: float | None, keep: int | None
    ) -> int:
        raise unsupported(self.name, Feature.CLEAN, "cleaning jobs")

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        raise unsupported(self.name, Feature.REDRIVE, "redriving dead letters")

    async def heartbeat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        raise unsupported(self.name, Feature.WORKERS, "worker heartbeats")

    async def workers(self, queue: str | None) -> list[WorkerInfo]:
        raise unsupported(self.name, Feature.WORKERS, "listing workers")

"""The one place the dashboard reaches the queues: through the generated client, nothing else.

Job lookup and adds use the client's ``queue(name).get(id).info()`` and ``add``; counts, job
lists, retry, cancel, pause/resume, clean and redrive use its operator API (issue 14). Which
of those a backend offers comes from the capability table (``qgen/runtime/capabilities*.py``),
never from the backend's name: the pages show what the table allows, a read the backend
refuses (``UnsupportedByBackend``) is left out of the page, and an action it refuses answers
501 with the backend's reason. Nothing here talks to a backend directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qgen import ConfigError, JobInfo, JobNotFound, JobStatus, QgenError, UnsupportedByBackend
from qgen.runtime.backends.ops import QueueCounts, RedriveReport
from qgen.runtime.capabilities import Feature, feature, supports
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.jobviews import JobPage

# The page's names for the operator operations, and the capability row each one needs.
OPERATIONS: Mapping[str, Feature] = {
    "counts": Feature.COUNTS,
    "jobs": Feature.LIST_JOBS,
    "pause": Feature.PAUSE,
    "resume": Feature.PAUSE,
    "retry_failed": Feature.RETRY,
    "clean": Feature.CLEAN,
    "redrive": Feature.REDRIVE,
    "retry": Feature.RETRY,
    "cancel": Feature.CANCEL,
    "workers": Feature.WORKERS,
}
QUEUE_ACTIONS = ("pause", "resume", "retry_failed", "clean", "redrive")
JOB_ACTIONS = ("retry", "cancel")
# Job states a job list can show, in the order the page lists them.
LIST_STATUSES = ("waiting", "delayed", "active", "completed", "failed", "discarded", "cancelled")
FINISHED_STATUSES = ("completed", "failed", "discarded", "cancelled")
# A job can be retried in these states, and cancelled in those (the handle says False else).
RETRYABLE = frozenset({JobStatus.FAILED, JobStatus.DISCARDED, JobStatus.CANCELLED})
CANCELLABLE = frozenset({JobStatus.WAITING, JobStatus.DELAYED, JobStatus.ACTIVE})


class OperationUnavailable(Exception):
    """The backend cannot do this operation (the capability table's or the backend's reason)."""


@dataclass(frozen=True, slots=True)
class AddRequest:
    data: Any
    job_id: str | None = None
    delay: float | None = None
    priority: int | None = None

    def options(self) -> dict[str, Any]:
        given = {"job_id": self.job_id, "delay": self.delay, "priority": self.priority}
        return {k: v for k, v in given.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Read:
    """A read the page can do without: its value, or why there is none (``problem``)."""

    value: Any = None
    problem: str | None = None


class DashboardData:
    def __init__(self, client: AsyncClientBase) -> None:
        self.client = client

    @property
    def backend(self) -> str:
        return self.client.backend_name

    def operations(self) -> dict[str, bool]:
        """Which operator operations the capability table gives this backend."""
        return {op: supports(feat, self.backend) for op, feat in OPERATIONS.items()}

    def available(self, op: str) -> bool:
        feat = OPERATIONS.get(op)
        return feat is not None and supports(feat, self.backend)

    def why_not(self, op: str) -> str:
        """The capability table's reason this backend cannot do ``op``."""
        feat = OPERATIONS.get(op)
        if feat is None:
            return f"no operation {op!r}"
        return f"{self.backend}: {feature(feat, self.backend).note}"

    async def job(self, queue: str, job_id: str) -> JobInfo | None:
        """The job, or None when there is none (or the id is one no backend accepts)."""
        try:
            handle = self.client.queue(queue).get(job_id)
        except ConfigError:  # an id no backend accepts (the lookup-id rule)
            return None
        try:
            return await handle.info()
        except JobNotFound:
            return None

    async def add(self, queue: str, request: AddRequest) -> str:
        """Add one job through the client, which validates the data with the queue's pydantic
        type first (ValidationFailed, nothing written) and the options (ConfigError)."""
        handle = await self.client.queue(queue).add(request.data, **request.options())
        return str(handle.id)

    # -- reads the pages can do without --------------------------------------------------------

    async def _read(self, op: str, call: Any) -> Read:
        if not self.available(op):
            call.close()  # never awaited: the table says the backend cannot
            return Read(problem=self.why_not(op))
        try:
            return Read(await call)
        except QgenError as exc:  # unsupported here, or the backend cannot be reached
            return Read(problem=str(exc))

    async def counts(self, queue: str) -> Read:
        """The queue's :class:`QueueCounts` (or why not)."""
        return await self._read("counts", self.client.queue(queue).counts())

    async def workers(self, queue: str) -> Read:
        """The worker processes serving ``queue`` (a list of ``WorkerInfo``), or why not."""
        return await self._read("workers", self.client.workers(queue))

    async def jobs(self, queue: str, status: str, limit: int, cursor: str | None) -> Read:
        """One :class:`JobPage` of a status, newest first (or why not). A bad cursor is the
        caller's: ConfigError."""
        q = self.client.queue(queue)
        return await self._read(
            "jobs", q.jobs(status=JobStatus(status), limit=limit, cursor=cursor)
        )

    async def page(self, queue: str, status: str, limit: int) -> JobPage[Any, Any] | None:
        """The newest ``limit`` jobs of a status, or None where the backend cannot list."""
        read = await self.jobs(queue, status, limit, None)
        value: JobPage[Any, Any] | None = read.value
        return value

    # -- actions ---------------------------------------------------------------------------------

    async def _act(self, op: str, call: Any) -> Any:
        if not self.available(op):
            call.close()
            raise OperationUnavailable(self.why_not(op))
        try:
            return await call
        except UnsupportedByBackend as exc:
            raise OperationUnavailable(str(exc)) from exc

    async def queue_action(self, queue: str, op: str, params: Mapping[str, Any]) -> Any:
        """pause, resume, retry_failed, clean (status, older_than, keep), redrive (dry_run)."""
        if op not in QUEUE_ACTIONS:
            raise OperationUnavailable(f"no queue operation {op!r}")
        return await self._act(op, getattr(self.client.queue(queue), op)(**params))

    async def job_action(self, queue: str, job_id: str, op: str) -> bool:
        """retry or cancel one job; False when its state does not allow it."""
        if op not in JOB_ACTIONS:
            raise OperationUnavailable(f"no job operation {op!r}")
        try:
            handle = self.client.queue(queue).get(job_id)
        except ConfigError as exc:
            raise OperationUnavailable(str(exc)) from exc
        done: bool = await self._act(op, getattr(handle, op)())
        return done

    async def redrive_preview(self, queue: str) -> RedriveReport:
        """What a redrive would do now (nothing moves)."""
        report: RedriveReport = await self._act(
            "redrive", self.client.queue(queue).redrive(dry_run=True)
        )
        return report


def counts_dict(counts: QueueCounts) -> dict[str, Any]:
    return counts.as_dict()


def timestamp(value: float | None) -> str:
    """Epoch seconds as an ISO-8601 UTC text (the page shows local time from it)."""
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat(timespec="milliseconds")

"""The one place the dashboard reaches the queues: through the generated client, nothing else.

Job lookup and adds use today's client (``queue(name).get(id).info()``, ``add``). The operator
operations of the client (counts, job lists, retry, cancel, pause/resume, clean, redrive,
workers: qgen issue 14) are called when the client has them; until then :meth:`available`
says no, the pages leave those parts out and the action routes answer 501. Nothing here talks
to a backend directly, so the page adds no backend code of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qgen import ConfigError, JobInfo, JobNotFound, JobStatus, UnsupportedByBackend
from qgen.runtime.client import AsyncClientBase

# Operations of a queue accessor (``client.<queue>.<op>``), of a job handle and of the client.
QUEUE_OPS = ("counts", "jobs", "pause", "resume", "is_paused", "clean", "redrive", "retry_failed")
JOB_OPS = ("retry", "cancel")
CLIENT_OPS = ("workers",)
# Job states a job list can show, in the order the page lists them.
LIST_STATUSES = ("waiting", "delayed", "active", "completed", "failed", "discarded", "cancelled")


class OperationUnavailable(Exception):
    """The client has no such operation yet (or the backend refused it with a reason)."""


@dataclass(frozen=True, slots=True)
class AddRequest:
    data: Any
    job_id: str | None = None
    delay: float | None = None
    priority: int | None = None

    def options(self) -> dict[str, Any]:
        given = {"job_id": self.job_id, "delay": self.delay, "priority": self.priority}
        return {k: v for k, v in given.items() if v is not None}


class DashboardData:
    def __init__(self, client: AsyncClientBase) -> None:
        self.client = client
        self._available: dict[str, bool] | None = None

    @property
    def backend(self) -> str:
        return self.client.backend_name

    def operations(self) -> dict[str, bool]:
        """Which operations the client offers, looked up once (the client class is fixed)."""
        if self._available is None:
            names = list(self.client.QUEUES)
            queue = self.client.queue(names[0]) if names else None
            handle = queue.get("probe") if queue is not None else None
            found = {op: hasattr(queue, op) for op in QUEUE_OPS}
            found |= {op: hasattr(handle, op) for op in JOB_OPS}
            found |= {op: hasattr(self.client, op) for op in CLIENT_OPS}
            self._available = found
        return self._available

    def available(self, op: str) -> bool:
        return self.operations().get(op, False)

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

    # -- operator operations (issue 14): called only when the client has them --------------

    async def _call(self, target: object, op: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(target, op, None)
        if method is None:
            raise OperationUnavailable(f"this qgen client has no {op}() yet")
        try:
            return await method(*args, **kwargs)
        except UnsupportedByBackend as exc:
            raise OperationUnavailable(str(exc)) from exc

    async def _optional(self, target: object, op: str, *args: Any, **kwargs: Any) -> Any | None:
        """A read the page can do without: None where the backend cannot do it."""
        try:
            return await self._call(target, op, *args, **kwargs)
        except OperationUnavailable:
            return None

    async def counts(self, queue: str) -> Any | None:
        """The queue's ``QueueCounts``, or None while the client has no ``counts()``."""
        if not self.available("counts"):
            return None
        return await self._optional(self.client.queue(queue), "counts")

    async def jobs(self, queue: str, status: str, limit: int, cursor: str | None) -> Any | None:
        """One ``JobPage`` of a status, newest first, or None while there are no job lists."""
        if not self.available("jobs"):
            return None
        q = self.client.queue(queue)
        return await self._optional(q, "jobs", status=JobStatus(status), limit=limit, cursor=cursor)

    async def queue_action(self, queue: str, op: str, params: Mapping[str, Any]) -> Any:
        if op not in QUEUE_OPS:
            raise OperationUnavailable(f"no queue operation {op!r}")
        return await self._call(self.client.queue(queue), op, **params)

    async def job_action(self, queue: str, job_id: str, op: str) -> Any:
        if op not in JOB_OPS:
            raise OperationUnavailable(f"no job operation {op!r}")
        return await self._call(self.client.queue(queue).get(job_id), op)

    async def workers(self) -> Any | None:
        if not self.available("workers"):
            return None
        return await self._optional(self.client, "workers")


def timestamp(value: float | None) -> str:
    """Epoch seconds as an ISO-8601 UTC text (the page shows local time from it)."""
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value, tz=dt.UTC).isoformat(timespec="milliseconds")

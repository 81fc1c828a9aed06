"""Jobs as the operator API lists them: :class:`JobView`, a job with its data and result
validated into the queue's generated types, and :class:`JobPage`, one page of a listing.

Listing never raises for one bad job: data stored by an older producer (or another language)
that no longer validates is kept raw in ``raw_data`` and described in ``data_error``; reading
``data`` of such a job raises :class:`ValidationFailed` with that description.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from qgen.runtime.backends.base import JSON, ErrorInfo, JobInfo, JobStatus
from qgen.runtime.errors import ValidationFailed
from qgen.runtime.interaction import Progress
from qgen.runtime.payloads import Adapters, describe_validation_error

ModelT = TypeVar("ModelT")
OutT = TypeVar("OutT")


@dataclass(frozen=True, slots=True)
class JobView(Generic[ModelT, OutT]):
    """A listed job: the backend's :class:`JobInfo` plus typed ``data`` and ``result``."""

    info: JobInfo
    data_error: str | None = None  # the stored data does not validate against the queue's type
    result_error: str | None = None
    _data: Any = field(default=None, repr=False)
    _result: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, info: JobInfo, adapters: Adapters) -> JobView[ModelT, OutT]:
        """Validate ``info``'s data (and its result, when completed) into the queue's types."""
        data, data_error = _validated(adapters.input, info.data)
        result, result_error = None, None
        if adapters.output is not None and info.status is JobStatus.COMPLETED:
            result, result_error = _validated(adapters.output, info.result)
        return cls(info, data_error, result_error, data, result)

    @property
    def data(self) -> ModelT:
        """The job's data as the queue's input type; ValidationFailed when it does not
        validate any more (see ``data_error`` and ``raw_data``)."""
        if self.data_error is not None:
            raise ValidationFailed(self.info.queue, self.data_error)
        value: ModelT = self._data
        return value

    @property
    def result(self) -> OutT | None:
        """The result of a completed job as the output type (None otherwise, or when the
        queue has no result); ValidationFailed when it does not validate."""
        if self.result_error is not None:
            raise ValidationFailed(self.info.queue, self.result_error)
        value: OutT | None = self._result
        return value

    @property
    def raw_data(self) -> JSON:
        return self.info.data

    @property
    def raw_result(self) -> JSON:
        return self.info.result

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def queue(self) -> str:
        return self.info.queue

    @property
    def status(self) -> JobStatus:
        return self.info.status

    @property
    def progress(self) -> Progress | None:
        return self.info.progress

    @property
    def error(self) -> ErrorInfo | None:
        return self.info.error

    @property
    def attempts_made(self) -> int:
        return self.info.attempts_made

    @property
    def max_attempts(self) -> int:
        return self.info.max_attempts

    @property
    def created_at(self) -> float | None:
        return self.info.created_at

    @property
    def started_at(self) -> float | None:
        return self.info.started_at

    @property
    def finished_at(self) -> float | None:
        return self.info.finished_at

    @property
    def run_at(self) -> float | None:
        return self.info.run_at

    @property
    def worker(self) -> str | None:
        return self.info.worker

    @property
    def priority(self) -> int | None:
        return self.info.priority

    @property
    def dead_letter_of(self) -> str | None:
        return self.info.dead_letter_of


@dataclass(frozen=True, slots=True)
class JobPage(Generic[ModelT, OutT]):
    """One page of a job listing, newest first; pass ``next_cursor`` for the next page (None:
    this was the last)."""

    jobs: list[JobView[ModelT, OutT]]
    next_cursor: str | None


def _validated(adapter: Any, value: Any) -> tuple[Any, str | None]:
    try:
        return adapter.validate_python(value), None
    except ValidationError as exc:
        return None, describe_validation_error(exc)


def job_json(info: JobInfo) -> dict[str, Any]:
    """A job as ``qgen jobs ... --json`` prints it (stored JSON, epoch-second times)."""
    return {
        "id": info.id,
        "queue": info.queue,
        "status": info.status.value,
        "data": info.data,
        "result": info.result,
        "error": None if info.error is None else info.error.to_json(),
        "progress": info.progress,
        "attempts_made": info.attempts_made,
        "max_attempts": info.max_attempts,
        "created_at": info.created_at,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "run_at": info.run_at,
        "worker": info.worker,
        "priority": info.priority,
        "dead_letter_of": info.dead_letter_of,
    }

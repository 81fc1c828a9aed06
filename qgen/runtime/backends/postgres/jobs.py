"""A qgen job as a row of ``<schema>.job`` (pg-boss's columns), both ways.

States (pg-boss): created and retry show as waiting (or delayed while ``start_after`` is in the
future), active, completed, cancelled shows as discarded, failed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from qgen.runtime.backends.base import JSON, AddOptions, Delivery, ErrorInfo, JobInfo, JobStatus
from qgen.runtime.backends.lanes import Job
from qgen.runtime.interaction import ProgressReporter
from qgen.runtime.names import validate_job_id
from qgen.runtime.settings import QueueSettings

_STATUS = {
    "active": JobStatus.ACTIVE,
    "completed": JobStatus.COMPLETED,
    "cancelled": JobStatus.DISCARDED,
    "failed": JobStatus.FAILED,
}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def insert_row(queue: str, data: JSON, o: AddOptions, settings: QueueSettings) -> tuple[Any, ...]:
    """(queue, id, data, priority, delay, retry_limit, backoff, dead_letter) of one add; the id
    is chosen here, so sending the insert again after a lost reply is safe."""
    attempts = o.attempts if o.attempts is not None else settings.attempts
    backoff = dumps(dict(o.backoff)) if o.backoff is not None else None
    return (
        queue,
        str(uuid.uuid4()) if o.job_id is None else validate_job_id(o.job_id),
        dumps(data),
        o.priority,
        float(o.delay),
        attempts - 1,
        backoff,
        settings.dead_letter,
    )


def _shown(text: str | None) -> Any:
    """A stored jsonb value (as text) for the client; one nested deeper than the decoder goes
    (a row written by something else) is shown as its text, as the other backends do."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def job_info(queue: str, job_id: str, row: tuple[Any, ...]) -> JobInfo:
    """A row of ``Statements.get`` as the client sees it (jsonb columns as text)."""
    state, delayed, data, progress, output, error, retry_count, retry_limit, cr, fin = row
    data, progress, output, error = map(_shown, (data, progress, output, error))
    if state in ("created", "retry"):
        status = JobStatus.DELAYED if delayed else JobStatus.WAITING
    else:
        status = _STATUS.get(state, JobStatus.UNKNOWN)
    return JobInfo(
        id=job_id,
        queue=queue,
        status=status,
        data=data,
        progress=progress,
        result=output,
        error=ErrorInfo.from_json(error) if error is not None else None,
        # retry_count counts failed attempts; a running or ended attempt counts too
        attempts_made=retry_count + (1 if state in ("active", "completed", "cancelled") else 0),
        max_attempts=retry_limit + 1,
        created_at=cr,
        finished_at=fin if status.finished else None,
    )


class PgJob(Job):
    """A leased row. ``stalled`` (its stall count at lease time) guards every outcome, so an
    outcome never lands on a job that was leased again after its lease ran out."""

    __slots__ = ("dead_letter", "id", "priority", "seq", "stalled")

    def __init__(self, delivery: Delivery, row: tuple[Any, ...]) -> None:
        self.delivery = delivery
        self.id = delivery.job_id
        self.stalled, self.dead_letter, self.priority, self.seq = row[5:9]
        self.suspect = self.stalled > 0  # its worker may have died running it


def leased_job(queue: str, row: tuple[Any, ...], report: ProgressReporter) -> PgJob:
    """A row of ``Statements.fetch``: id, data (text), retry_count, retry_limit, backoff (text),
    stalled_count, dead_letter, priority, seq. Raises ValueError or RecursionError when the
    data or the backoff cannot be decoded."""
    job_id, data, retry_count, retry_limit, backoff = row[:5]
    if backoff is not None:
        backoff = json.loads(backoff)
        if not isinstance(backoff, dict):
            raise ValueError(f"the job's backoff is not a JSON object: {backoff!r:.80}")
    delivery = Delivery(
        queue=queue,
        job_id=job_id,
        data=None if data is None else json.loads(data),  # text: json.loads(str) is quicker
        attempt=retry_count + 1,
        max_attempts=retry_limit + 1,
        backoff=backoff,
        report_progress=report,
    )
    return PgJob(delivery, row)

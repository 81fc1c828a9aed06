"""A qgen job as a row of the queue file, both ways: new rows, leased rows, rows read back."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qgen.runtime.backends.base import Delivery, ErrorInfo, JobInfo, JobStatus
from qgen.runtime.backends.lanes import Job

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode


def dumps(value: Any) -> str:
    return _ENCODE(value)


def loads(text: str | None) -> Any:
    return None if text is None else _DECODE(text)


def new_id() -> str:
    """A time-ordered id (µs clock, then 64 random bits), 30 hex digits: new rows land at the
    right end of the (queue, id) index instead of on a random page of it, so an add dirties
    fewer pages (less to write to the WAL and to checkpoint)."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(8).hex()}"


@dataclass(frozen=True, slots=True)
class NewJob:
    id: str
    data: str  # JSON text
    priority: int
    max_attempts: int
    backoff: str | None  # JSON text
    start_after: float
    meta: str | None = None  # JSON text (jobmeta)

    def state(self, now: float) -> str:
        return "delayed" if self.start_after > now else "waiting"

    def row(self, queue: str, now: float) -> tuple[Any, ...]:
        """The parameters of ``sql.INSERT``."""
        return (
            queue,
            self.id,
            self.state(now),
            self.priority,
            self.data,
            self.max_attempts,
            self.backoff,
            self.start_after,
            now,
            self.meta,
        )


class SqliteJob(Job):
    """A leased row: ``seq`` and ``lease`` guard every write about it."""

    __slots__ = ("lease", "priority", "seq")

    def __init__(self, delivery: Delivery, seq: int, priority: int, lease: str) -> None:
        self.delivery = delivery
        self.suspect = False
        self.seq, self.priority, self.lease = seq, priority, lease


def state(state: str, start_after: float, now: float) -> JobStatus:
    if state == "delayed" and start_after <= now:
        return JobStatus.WAITING  # due; the next round of a worker takes it
    try:
        return JobStatus(state)
    except ValueError:  # a row written by something else
        return JobStatus.UNKNOWN


def _shown(text: str | None) -> Any:
    """A stored value for the client; text that is not JSON (a row written by something else)
    is shown as it is, as the Redis backend does."""
    try:
        return loads(text)
    except (ValueError, RecursionError):
        return text


def job_info(row: Sequence[Any], strict: bool = False) -> JobInfo:
    """A row of ``sql.INFO`` as the client sees it. ``strict`` (listing): data that cannot be
    decoded is None with an error saying so, else it is shown as its text."""
    jid, q, st, data, progress, result, error, made, max_att, created, finished, start = row[:12]
    started, worker, priority, dead_letter_of = row[12:16]
    status = state(st, start, time.time())
    error_info = None if error is None else ErrorInfo.from_json(_shown(error))
    try:
        data = loads(data)
    except (ValueError, RecursionError) as exc:
        if strict:
            data = None
            error_info = ErrorInfo("InvalidJobData", f"the job's data cannot be read: {exc!r:.200}")
    return JobInfo(
        id=jid,
        queue=q,
        status=status,
        data=data,
        progress=_shown(progress),
        result=_shown(result),
        error=error_info,
        attempts_made=made,
        max_attempts=max_att,
        created_at=created,
        finished_at=finished if status.finished else None,
        started_at=started,
        worker=worker,
        priority=priority,
        run_at=start if status is JobStatus.DELAYED else None,
        dead_letter_of=dead_letter_of,
    )

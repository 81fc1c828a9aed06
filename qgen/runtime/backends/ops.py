"""The operator API's values that cross the Backend protocol (issue 14), the shared cursor
format, the worker heartbeat's rates and the redrive loop the SQL backends share.
``.unsupported`` has the defaults that refuse each operation with the capability table's
reason."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qgen.runtime.errors import ConfigError

# Worker presence: a worker beats every WORKER_BEAT seconds and is listed while its last beat
# is at most WORKER_LISTED_FOR seconds old (three beats: one late beat does not hide it).
WORKER_BEAT = 10.0
WORKER_LISTED_FOR = 3 * WORKER_BEAT

# Statuses a QueueCounts reports, in the order tables show them.
COUNTED = ("waiting", "delayed", "active", "completed", "failed", "discarded", "cancelled")

# ``validate(data) -> error text or None``: the target queue's current input schema, from the
# client (backends never import the generated models).
Validate = Callable[[Any], "str | None"]


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Jobs per status in one queue. ``approximate``: the backend's counts are estimates (SQS:
    ApproximateNumberOfMessages*). Statuses it cannot count are 0 and named in ``unknown``."""

    waiting: int = 0
    delayed: int = 0
    active: int = 0
    completed: int = 0
    failed: int = 0
    discarded: int = 0
    cancelled: int = 0
    paused: bool = False
    approximate: bool = False
    unknown: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``qgen queues --json``)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTED}
        out.update(paused=self.paused, approximate=self.approximate, unknown=sorted(self.unknown))
        return out


@dataclass(frozen=True, slots=True)
class RedriveReport:
    """What a redrive did: ``moved`` job ids (or, on a dry run, the ones it would move);
    ``kept``: (job id, why) of the ones left in the dead-letter queue (their data no longer
    validates against the target queue's current input schema, or a job with that id waits or
    runs in the target). Both list a job under its own id, the one it was added with (and has
    again in the target queue), on every backend. ``dead_letter_ids``: a kept job's id in the
    dead-letter queue where that differs (Redis: the copy's), to look the dead letter up."""

    moved: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    dead_letter_ids: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        kept = [{"id": job_id, "error": error} for job_id, error in self.kept]
        return {"moved": list(self.moved), "kept": kept, "dry_run": self.dry_run}


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker process as its heartbeat records it. Times are epoch seconds."""

    name: str  # the queue config's ``name``, else "<host>:<pid>"
    host: str
    pid: int
    queues: tuple[str, ...]
    started_at: float
    last_seen: float
    backend: str

    @property
    def key(self) -> str:
        """Identifies one process run (a restarted process with the same pid is another)."""
        return f"{self.host}:{self.pid}:{int(self.started_at * 1000)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "queues": list(self.queues),
            "started_at": self.started_at,
            "last_seen": self.last_seen,
            "backend": self.backend,
        }

    @classmethod
    def from_json(cls, value: Any) -> WorkerInfo:
        """From :meth:`to_json`'s form (a backend's stored record); ValueError when malformed."""
        try:
            return cls(
                name=str(value["name"]),
                host=str(value["host"]),
                pid=int(value["pid"]),
                queues=tuple(str(q) for q in value["queues"]),
                started_at=float(value["started_at"]),
                last_seen=float(value["last_seen"]),
                backend=str(value["backend"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a worker record: {exc}") from None


# -- cursors ---------------------------------------------------------------------------------


def encode_cursor(when: float, job_id: str) -> str:
    """The opaque cursor after a job listed at ``when`` (its per-status time) with ``job_id``.
    Backends page with ``(time, id) < (when, job_id)``, newest first, so jobs that move or
    arrive meanwhile never shift the next page."""
    raw = json.dumps([when, job_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """``(time, job id)`` of a cursor from :func:`encode_cursor`; ConfigError for anything
    else (a cursor is user input: the CLI takes it from the command line)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        when, job_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if (
            isinstance(when, bool)
            or not isinstance(when, int | float)
            or not math.isfinite(when)
            or not isinstance(job_id, str)
        ):
            raise ValueError("bad fields")
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        shown = cursor[:80]
        raise ConfigError(f"invalid cursor {shown!r}: pass the next_cursor of a page") from None
    return float(when), job_id


# -- redrive ---------------------------------------------------------------------------------

# A page of dead letters after a (created, seq) position, oldest first: rows of (id, data as
# JSON text, created, seq). Its argument is the position to read after.
DeadLetterPage = Callable[
    [tuple[Any, int]], Awaitable[Sequence[tuple[str, "str | None", Any, int]]]
]


def dead_letter_problem(text: str | None, validate: Validate) -> str | None:
    """Why a dead letter's stored data (JSON text) cannot go back, or None."""
    try:
        data = None if text is None else json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"the job's data cannot be read: {exc!r:.200}"
    return validate(data)


async def redrive_pages(
    page: DeadLetterPage,
    move: Callable[[str], Awaitable[bool]],
    *,
    start: tuple[Any, int],
    page_size: int,
    limit: int | None,
    validate: Validate,
    dry_run: bool,
) -> RedriveReport:
    """A redrive over rows that record their source queue (SQLite, PostgreSQL): dead letters
    page by page from ``start``, each validated, then moved by ``move(id)`` (one transaction
    per job; False: a job with that id waits or runs in the target, so the copy stays)."""
    report = RedriveReport(dry_run=dry_run)
    after = start
    while limit is None or len(report.moved) < limit:
        rows = await page(after)
        for job_id, text, created, seq in rows:
            after = (created, seq)
            problem = dead_letter_problem(text, validate)
            if problem is not None:
                report.kept.append((job_id, problem))
            elif dry_run or await move(job_id):
                report.moved.append(job_id)
            else:
                report.kept.append((job_id, f"a job {job_id!r} is waiting or running there"))
            if limit is not None and len(report.moved) >= limit:
                break
        if len(rows) < page_size:
            break
    return report

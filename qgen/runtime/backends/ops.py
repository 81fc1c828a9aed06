"""The operator API's values that cross the Backend protocol (issue 14), the shared cursor
format and the worker heartbeat's rates. ``.unsupported`` has the defaults that refuse each
operation with the capability table's reason."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
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
    ``kept``: (job id, validation error) of the ones left in the dead-letter queue because
    their data no longer validates against the target queue's current input schema."""

    moved: list[str] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False

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

"""The Backend protocol and the values that cross it.

Shape: the runner turns one delivered job into an :data:`Outcome`; the backend applies outcomes
natively and batches them as it likes. Backends never call user code except through ``handle``.
Queue settings arrive typed (:class:`qgen.runtime.settings.QueueSettings`) or as a queue's
config dict, which the backend resolves once when it connects.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

from qgen.runtime.interaction import Progress, ProgressReporter
from qgen.runtime.settings import QueueConfigs, QueueSettings

JSON = Any


class JobStatus(enum.StrEnum):
    WAITING = "waiting"
    DELAYED = "delayed"  # waiting for its start time (first delay or retry backoff)
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCARDED = "discarded"
    UNKNOWN = "unknown"  # the backend cannot tell (SQS after sending)

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DISCARDED)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    type: str  # exception class name, e.g. "PaymentFailedError"
    message: str
    traceback: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback}

    @classmethod
    def from_json(cls, value: Any) -> ErrorInfo:
        if isinstance(value, dict):
            return cls(
                str(value.get("type", "Error")),
                str(value.get("message", "")),
                value.get("traceback"),
            )
        return cls("Error", str(value))


@dataclass(frozen=True, slots=True)
class AddOptions:
    """Normalized options of one add. ``delay`` in seconds; ``backoff`` as in config_keys."""

    job_id: str | None = None
    delay: float = 0.0
    priority: int = 0  # higher runs first; 0 is the default
    attempts: int | None = None  # None: the queue's config (or 3)
    backoff: Mapping[str, Any] | None = None  # None: the queue's config
    extra: Mapping[str, Any] = field(default_factory=dict)  # backend-specific (group, connection)


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    queue: str
    status: JobStatus
    data: JSON = None
    progress: Progress | None = None
    result: JSON = None
    error: ErrorInfo | None = None
    attempts_made: int = 0
    max_attempts: int = 1
    created_at: float | None = None  # epoch seconds
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One job handed to the runner."""

    queue: str
    job_id: str
    data: JSON  # decoded JSON, not yet validated
    attempt: int  # 1 on the first try
    max_attempts: int
    backoff: Mapping[str, Any] | None  # the job's own backoff, or None for the queue's config
    report_progress: ProgressReporter


@dataclass(frozen=True, slots=True)
class Completed:
    result: JSON  # JSON-ready (already dumped with the output type); None for no result


@dataclass(frozen=True, slots=True)
class Retry:
    error: ErrorInfo
    delay: float  # seconds until the next attempt


@dataclass(frozen=True, slots=True)
class Failed:
    error: ErrorInfo
    dead_letter: str | None  # queue to receive a copy of the job, if any


@dataclass(frozen=True, slots=True)
class Discarded:
    reason: str


Outcome = Completed | Retry | Failed | Discarded
Handler = Callable[[Delivery], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class Provisioned:
    """What ``Backend.provision`` did: one line for people, and the details (one per line)."""

    summary: str
    details: tuple[str, ...] = ()


class Consumer(Protocol):
    async def run(self) -> None:
        """Take jobs and hand them to the handler until :meth:`stop`; returns once drained."""

    async def stop(self, grace: float) -> None:
        """Stop taking jobs; let running ones finish within ``grace`` seconds; give the rest
        back to the queue (they are not lost and not counted as failed)."""


class Backend(Protocol):
    name: ClassVar[str]

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        """Open the backend; ``queues`` gives each known queue's settings (or config dict),
        used as defaults for jobs added without those options."""
        ...

    @classmethod
    async def provision(cls, url: str, queues: QueueConfigs) -> Provisioned:
        """Create what the backend needs before use and is not made on the fly: the schema
        (PostgreSQL migrations), the queues, dead-letter queues and redrive policies (SQS).
        Idempotent; nothing elsewhere."""
        ...

    async def close(self) -> None: ...

    async def enqueue(self, queue: str, data: JSON, options: AddOptions) -> str:
        """Store one job (data already validated and JSON-ready); return its id. Adding a
        ``job_id`` that exists returns that id and changes nothing."""
        ...

    async def enqueue_many(
        self, queue: str, items: Sequence[tuple[JSON, AddOptions]]
    ) -> list[str]: ...

    async def get(self, queue: str, job_id: str) -> JobInfo | None: ...

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        """Return once the job is finished; raise JobTimeout after ``timeout`` seconds."""
        ...

    def consume(self, queues: Sequence[QueueSettings], handle: Handler) -> Consumer: ...

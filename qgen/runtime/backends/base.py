"""The Backend protocol and the values that cross it.

Shape: the runner turns one delivered job into an :data:`Outcome`; the backend applies outcomes
natively and batches them as it likes. Backends never call user code except through ``handle``.
Queue settings arrive typed (:class:`qgen.runtime.settings.QueueSettings`) or as a queue's
config dict, which the backend resolves once when it connects.

The operator API (counts, lists, cancel, retry, pause, clean, redrive, workers: issue 14) is
part of the protocol; its values live in :mod:`.ops`. A backend inherits
:class:`.unsupported.UnsupportedOps` so that what it cannot do is refused with the capability
table's reason.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, Self

from qgen.runtime.backends.ops import QueueCounts, RedriveReport, Validate, WorkerInfo
from qgen.runtime.interaction import CancelFlag, Progress, ProgressReporter
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs, QueueSettings

JSON = Any


class JobStatus(enum.StrEnum):
    WAITING = "waiting"
    DELAYED = "delayed"  # waiting for its start time (first delay or retry backoff)
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"  # cancelled by an operator (handle.cancel()): no retry, no DLQ copy
    UNKNOWN = "unknown"  # the backend cannot tell (SQS after sending)

    @property
    def finished(self) -> bool:
        return self in _FINISHED


_FINISHED = frozenset(
    (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DISCARDED, JobStatus.CANCELLED)
)


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
    # The job's own metadata, kept beside the data and never inside it: the W3C trace context
    # (``traceparent``, ``tracestate``) of the add's producer span. None: nothing to keep.
    meta: Mapping[str, str] | None = None


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
    started_at: float | None = None  # the last attempt's start
    worker: str | None = None  # name of the worker that ran it last
    priority: int | None = None  # qgen's priority (higher first), where the backend keeps it
    run_at: float | None = None  # when a delayed job becomes due
    dead_letter_of: str | None = None  # a dead-letter copy: the queue it failed on


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
    # Set by the consumer when an operator cancels the running job (``Lane.request_cancel``);
    # the runner reads it and ``interaction.queue.cancelled`` shows it to the job.
    cancel: CancelFlag = field(default_factory=lambda: CancelFlag())
    # The metadata the job was added with (``AddOptions.meta``: the trace context), if any.
    meta: Mapping[str, str] | None = None


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


@dataclass(frozen=True, slots=True)
class Cancelled:
    """An operator cancelled the job while it ran: status cancelled, no retry, no dead-letter
    copy, no result kept (whatever the job returned after the request)."""

    reason: str


Outcome = Completed | Retry | Failed | Discarded | Cancelled
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
    async def provision(
        cls, url: str, queues: QueueConfigs, *, schedules: Sequence[Schedule] = ()
    ) -> Provisioned:
        """Create what the backend needs before use and is not made on the fly: the schema
        (PostgreSQL migrations), the queues, dead-letter queues and redrive policies (SQS),
        and what the build's ``schedules`` fire through (SQS: the claim queue). Idempotent;
        nothing elsewhere."""
        ...

    async def close(self) -> None: ...

    def unreachable(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised by one of this backend's calls, means the server could not
        be reached (a connection lost past the backend's own retries). Clients raise
        ``BackendUnavailable`` for it, the same error on every backend."""
        ...

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

    # -- the operator API (issue 14) ---------------------------------------------------------
    # Each operation the capability table marks unsupported raises UnsupportedByBackend with
    # the table's note (inherit ``unsupported.UnsupportedOps``). Queue names and job ids
    # reach these methods validated by the client; the methods never trust them for anything
    # but parameters and validated keys.

    async def counts(self, queue: str) -> QueueCounts:
        """Jobs per status now, and whether the queue is paused. Statuses the backend cannot
        count are 0 and listed in ``unknown``; ``approximate`` when the numbers are estimates.
        Dead-letter copies count in the dead-letter queue, never in their source queue (SQS,
        which keeps no failed originals, shows its dead-letter queue's depth as ``failed``)."""
        ...

    async def oldest_waiting(self, queue: str) -> float | None:
        """When the oldest job waiting in ``queue`` (ready to run, not delayed) was added, in
        epoch seconds; None when none waits. Read by the worker's metrics sampler."""
        ...

    async def list_jobs(
        self, queue: str, status: JobStatus, limit: int, cursor: str | None
    ) -> tuple[list[JobInfo], str | None]:
        """Up to ``limit`` (1..1000) jobs in ``status``, newest first by the status's time:
        created for waiting, run_at for delayed, started for active, finished for the finished
        states; ties by id (descending). Returns the page and the cursor after its last job
        (``ops.encode_cursor(time, id)``), or None when there is no further page. A cursor
        continues strictly after that (time, id) (``ops.decode_cursor``), so paging is stable
        while jobs move or arrive. Jobs added by other producers (Node BullMQ) are listed too;
        a job whose stored data cannot be decoded is listed with ``data=None`` and an
        ``error`` saying so, never raised."""
        ...

    async def cancel(self, queue: str, job_id: str) -> bool:
        """Waiting or delayed: atomically removed from the runnable set and marked cancelled;
        it never starts (True). Active: marked cancel-requested (True); the worker holding it
        learns it at its next lease renewal (``Native.renew`` returns the id) or sooner by push,
        cancels the job's task, and records the :class:`Cancelled` outcome: status cancelled,
        no retry, no dead-letter copy. A cancel-requested job given back or whose lease expires
        ends cancelled, never runs again. Finished or unknown job: False, nothing changed."""
        ...

    async def retry(self, queue: str, job_id: str) -> bool:
        """A failed, discarded or cancelled job runs again: waiting now, attempts made reset to
        0, error cleared, same id and data (True). Any other status or no such job: False."""
        ...

    async def retry_all(self, queue: str, limit: int | None) -> int:
        """:meth:`retry` for every failed job of the queue (oldest first, at most ``limit``);
        returns how many were moved back to waiting. Discarded and cancelled jobs stay."""
        ...

    async def pause(self, queue: str) -> None:
        """Workers of every process stop taking new jobs of ``queue`` within one poll or
        wake-up; running jobs finish; jobs leased ahead and not started go back to the queue.
        Adds still work. Idempotent. Redis: BullMQ's own paused state, so Node sees it."""
        ...

    async def resume(self, queue: str) -> None:
        """Undo :meth:`pause`; wakes idle workers where the backend can push. Idempotent."""
        ...

    async def is_paused(self, queue: str) -> bool: ...

    async def clean(
        self, queue: str, status: JobStatus, older_than: float | None, keep: int | None
    ) -> int:
        """Delete jobs in a finished ``status`` (completed, failed, discarded, cancelled) that
        finished more than ``older_than`` seconds ago (None: any age), keeping the newest
        ``keep`` of them (None: keep none); returns how many were deleted. Other statuses:
        ConfigError (nothing deleted)."""
        ...

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        """Move dead-letter copies (of jobs that failed on ``target_queue``, where the backend
        records the source; SQS: every message) from ``dead_letter_queue`` back to
        ``target_queue``, oldest first, at most ``limit``. Each job's data goes through
        ``validate`` (the client's check against the target's current input schema) first: a
        job whose data fails stays where it is and is reported in ``kept`` (its id in the
        dead-letter queue, the error). A moved job keeps its id where the backend has ids: the
        failed original in ``target_queue`` becomes waiting again with the copy's data and a
        fresh attempt count (or is recreated if it was cleaned), and the copy is removed;
        ``moved`` lists the ids in ``target_queue`` (SQS: the new message ids). Moves are
        atomic per job where the backend allows (SQS: send then delete, at least once).
        ``dry_run``: nothing changes; ``moved`` lists what would move. Jobs kept, and all of
        them on a dry run, stay available to the next redrive at once (SQS: their visibility
        is set back to 0)."""
        ...

    async def heartbeat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        """Record that ``worker`` is alive (its ``last_seen``): called at start-up and every
        ``ops.WORKER_BEAT`` s by the worker process; ``stopping=True`` at a clean stop removes
        it. Records older than ``ops.WORKER_LISTED_FOR`` are dropped by the backend (lazily)."""
        ...

    async def workers(self, queue: str | None) -> list[WorkerInfo]:
        """Workers seen within ``ops.WORKER_LISTED_FOR`` s (serving ``queue``, or all), by name
        then host and pid. Redis: BullMQ's worker registry, so Node workers are listed too."""
        ...

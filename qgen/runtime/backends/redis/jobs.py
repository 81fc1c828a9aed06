"""A qgen job as a BullMQ job hash, both ways: the add-job calls, leased jobs, jobs read back.

Decisions (documented in docs and the capability table):

- The job hash's ``data`` field is the payload itself as JSON and ``name`` is the queue name,
  so a plain Node BullMQ producer or worker reads and writes the same jobs.
- Priority: qgen runs higher numbers first (default 0); BullMQ runs lower numbers first and
  puts jobs without a priority in the wait list, ahead of every prioritized job. qgen stores
  every job it adds as prioritized with ``PRIORITY_OFFSET - priority`` so qgen's order holds
  among all jobs qgen adds, and a Node job with priority ``p`` ranks as qgen priority
  ``PRIORITY_OFFSET - p``. Jobs a Node producer adds without a priority run first.
- Attempts: a job without ``attempts`` in its options (Node's default) gets the queue's
  configured ``attempts``; qgen always writes the option explicitly.
- The W3C trace context of the add (issue 17) goes where Node BullMQ's telemetry keeps it, the
  job option ``tm``, so traces continue across Node and Python producers and workers.
- Failures keep BullMQ's ``failedReason`` (the message) and add qgen fields to the hash:
  ``qge`` (the error as JSON: type, message, traceback), ``qgd`` = "1" for a discarded job and
  ``qgc`` = "1" for a cancelled one, which BullMQ and Node see as failed (``failedReason``
  "Cancelled: ..."). ``qgcr`` on an active job is an operator's cancel request.
- A dead-letter copy carries ``qgenDlq: {queue, id}`` in its BullMQ options: where it failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import (
    JSON,
    AddOptions,
    Cancelled,
    Delivery,
    ErrorInfo,
    JobInfo,
    JobStatus,
)
from qgen.runtime.backends.lanes import Job
from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.scripts import Call, pack
from qgen.runtime.errors import ConfigError
from qgen.runtime.names import validate_job_id, validate_queue_name
from qgen.runtime.settings import QueueSettings, SettingsBook

PRIORITY_OFFSET = 2**20  # BullMQ accepts priorities 1 .. 2**21
DELAY_SCALE = 0x1000  # BullMQ's delayed score: due ms * 4096 + a counter
MIN_PRIORITY = PRIORITY_OFFSET - 2**21
MAX_PRIORITY = PRIORITY_OFFSET - 1
DISCARDED_FIELD = "qgd"
CANCELLED_FIELD = "qgc"
CANCEL_REQUEST_FIELD = "qgcr"
ERROR_FIELD = "qge"
DLQ_OPTION = "qgenDlq"  # a dead-letter copy's options: {"queue": source, "id": original id}
# The job option in which Node BullMQ (>= 5) keeps ``opts.telemetry.metadata``: its propagation
# metadata, a JSON object of the trace context (bullmq-otel's format), as text.
TELEMETRY_FIELD = "tm"

_STATES = {
    "completed": JobStatus.COMPLETED,
    "failed": JobStatus.FAILED,
    "delayed": JobStatus.DELAYED,
    "active": JobStatus.ACTIVE,
    "waiting": JobStatus.WAITING,
    "wait": JobStatus.WAITING,
    "prioritized": JobStatus.WAITING,
    "paused": JobStatus.WAITING,
    "waiting-children": JobStatus.WAITING,
}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def bull_priority(priority: int) -> int:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ConfigError(
            f"priority {priority} is out of the Redis backend's range "
            f"{MIN_PRIORITY} .. {MAX_PRIORITY} (BullMQ priorities are 1 .. 2**21)"
        )
    return PRIORITY_OFFSET - priority


def to_bull_backoff(backoff: Mapping[str, Any]) -> dict[str, Any]:
    """qgen backoff -> BullMQ's ``{type, delay, jitter}``; ``max_delay`` kept as ``maxDelay``
    (Node ignores it; the qgen runner applies it)."""
    out: dict[str, Any] = {"type": backoff.get("type", "exponential")}
    out["delay"] = int(backoff.get("delay", 1000))
    if "jitter" in backoff:
        out["jitter"] = backoff["jitter"]
    if "max_delay" in backoff:
        out["maxDelay"] = int(backoff["max_delay"])
    return out


def from_bull_backoff(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return {"type": "fixed", "delay": raw}  # BullMQ's number shorthand
    if not isinstance(raw, dict) or raw.get("type") not in ("fixed", "exponential"):
        return None  # absent or a custom strategy: the queue's config applies
    out: dict[str, Any] = {"type": raw["type"], "delay": raw.get("delay", 0)}
    if "jitter" in raw:
        out["jitter"] = raw["jitter"]
    if "maxDelay" in raw:
        out["max_delay"] = raw["maxDelay"]
    return out


def keep_jobs(value: Any) -> dict[str, int]:
    """qgen's remove_on_* (True: keep none, False/None: keep all, n: keep n) -> keepJobs; a
    Node job may carry BullMQ's own ``{age, count, limit}`` form, kept as it is."""
    if isinstance(value, dict):
        return {k: int(v) for k, v in value.items() if k in ("age", "count", "limit")}
    if value is True:
        return {"count": 0}
    if value is False or value is None:
        return {"count": -1}
    return {"count": int(value)}


class JobBuilder:
    """Builds the add-job script calls of one queue, with the queue's config as defaults."""

    def __init__(self, keys: QueueKeys, settings: QueueSettings) -> None:
        self.keys = keys
        self.attempts = settings.attempts
        self.backoff = to_bull_backoff(settings.backoff)
        self.remove_on_complete = settings.completed_retention.to_bull()
        self.remove_on_fail = settings.failed_retention.to_bull()

    def add_call(
        self,
        data: JSON,
        options: AddOptions,
        now_ms: int | None = None,
        *,
        trusted_id: str | None = None,
    ) -> Call:
        """``trusted_id``: an id qgen made itself (dead-letter copies), not checked."""
        job_id = trusted_id or ""
        if trusted_id is None and options.job_id is not None:
            job_id = validate_job_id(options.job_id)
            if job_id.isdigit():
                raise ConfigError(
                    f"job_id {job_id!r}: BullMQ keeps integer ids for its own counter; "
                    "use an id with a non-digit character"
                )
        timestamp = now_ms if now_ms is not None else int(time.time() * 1000)
        opts: dict[str, Any] = {
            "attempts": options.attempts if options.attempts is not None else self.attempts,
            "backoff": to_bull_backoff(options.backoff) if options.backoff else self.backoff,
            "priority": bull_priority(options.priority),
        }
        delay_ms = round(options.delay * 1000) if options.delay > 0 else 0
        if delay_ms:
            opts["delay"] = delay_ms
        if job_id:
            opts["jobId"] = job_id
        if options.meta:  # where Node BullMQ's telemetry keeps the trace context
            opts[TELEMETRY_FIELD] = jobmeta.encode(options.meta)
        # Retention (defaults included) as BullMQ's KeepJobs on every job, so Node's workers
        # apply the same when they finish qgen's jobs.
        opts["removeOnComplete"] = self.remove_on_complete
        opts["removeOnFail"] = self.remove_on_fail
        source = options.extra.get(DLQ_OPTION)
        if source is not None:
            opts[DLQ_OPTION] = dict(source)
        args = [
            pack(
                [self.keys.base, job_id, self.keys.queue, timestamp, None, None, None, None, None]
            ),
            dumps(data),
            pack(opts),
        ]
        k = self.keys
        if delay_ms:
            return ("addDelayedJob", k.add_delayed(), [*args, delay_ms])
        return ("addPrioritizedJob", k.add_prioritized(), [*args, opts["priority"]])


def pairs(flat: list[Any]) -> dict[str, Any]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat) - 1, 2)}


def _loads(text: Any, default: Any = None) -> Any:
    if text is None or text == "":
        return default
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def job_opts(fields: Mapping[str, Any]) -> dict[str, Any]:
    opts = _loads(fields.get("opts"), {})
    return opts if isinstance(opts, dict) else {}


def max_attempts(opts: Mapping[str, Any], default: int) -> int:
    raw = opts.get("attempts")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    return default


def attempts_made(fields: Mapping[str, Any]) -> int:
    return int(fields.get("atm") or fields.get("attemptsMade") or 0)


def error_of(fields: Mapping[str, Any]) -> ErrorInfo | None:
    raw = fields.get(ERROR_FIELD)
    if raw:
        return ErrorInfo.from_json(_loads(raw))
    reason = fields.get("failedReason")
    if reason:
        return ErrorInfo("Error", str(reason))
    return None


def job_info(
    queue: str,
    job_id: str,
    fields: Mapping[str, Any],
    state: str,
    default_attempts: int,
    delayed_score: float | None = None,
) -> JobInfo:
    """``delayed_score``: the job's score in BullMQ's delayed set (due ms * 4096 + counter)."""
    status = _STATES.get(state, JobStatus.UNKNOWN)
    if status is JobStatus.FAILED and fields.get(DISCARDED_FIELD) == "1":
        status = JobStatus.DISCARDED
    if status is JobStatus.FAILED and fields.get(CANCELLED_FIELD) == "1":
        status = JobStatus.CANCELLED
    finished = fields.get("finishedOn")
    ts = fields.get("timestamp")
    opts = job_opts(fields)
    source = opts.get(DLQ_OPTION)
    return JobInfo(
        id=job_id,
        queue=queue,
        status=status,
        data=_loads(fields.get("data")),
        progress=_loads(fields.get("progress")),
        result=_loads(fields.get("returnvalue")) if status is JobStatus.COMPLETED else None,
        error=error_of(fields) if status in _ERRED else None,
        attempts_made=attempts_made(fields),
        max_attempts=max_attempts(opts, default_attempts),
        created_at=_seconds(ts),
        finished_at=_seconds(finished) if status.finished else None,
        started_at=_seconds(fields.get("processedOn")),
        worker=fields.get("pb") or None,
        priority=_qgen_priority(fields.get("priority")),
        run_at=_run_at(fields, delayed_score) if status is JobStatus.DELAYED else None,
        dead_letter_of=str(source["queue"]) if isinstance(source, dict) else None,
    )


_ERRED = (JobStatus.FAILED, JobStatus.DISCARDED, JobStatus.CANCELLED)


def _seconds(ms: Any) -> float | None:
    try:
        return int(ms) / 1000 if ms else None
    except (TypeError, ValueError):
        return None


def _qgen_priority(raw: Any) -> int | None:
    """BullMQ priority -> qgen's (None: a job without one, which BullMQ runs first)."""
    try:
        bull = int(raw or 0)
    except (TypeError, ValueError):
        return None
    return PRIORITY_OFFSET - bull if bull else None


def _run_at(fields: Mapping[str, Any], score: float | None) -> float | None:
    """When a delayed job is due: from its delayed score, else its add time plus its delay
    (right for a first delay, not for a retry's)."""
    if score is not None:
        return float(score) // DELAY_SCALE / 1000
    created, delay = _seconds(fields.get("timestamp")), _seconds(fields.get("delay"))
    return None if created is None else created + (delay or 0.0)


def job_data(fields: Mapping[str, Any]) -> Any:
    raw = fields.get("data", "null")
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # not JSON: the runner's validation fails the job without retry


class RedisJob(Job):
    """A job locked by this worker with ``token`` (the token stays with the slot's next job,
    which the finishing call fetches); ``opts`` are its parsed BullMQ options."""

    __slots__ = ("cancel_reason", "deferred_failure", "id", "opts", "token")
    cancel_field: ClassVar[str] = CANCEL_REQUEST_FIELD

    def __init__(
        self,
        delivery: Delivery,
        token: str,
        opts: dict[str, Any],
        deferred_failure: Any = None,
        cancel_reason: str | None = None,
    ) -> None:
        self.delivery = delivery
        self.suspect = False
        self.id, self.token, self.opts = delivery.job_id, token, opts
        # BullMQ's stalled check marks a job that stalled more than max_stalled_count times
        # ("defa" in its hash) and puts it back; the worker that takes it fails it unrun.
        self.deferred_failure = deferred_failure
        # An operator asked to cancel it while it was active and it came back (given back,
        # stalled): it ends cancelled without running.
        self.cancel_reason = cancel_reason

    def cancelled(self) -> Cancelled | None:
        """The outcome of a job fetched with a cancel request on it: it ends unrun."""
        return Cancelled(self.cancel_reason) if self.cancel_reason else None


class Catalog:
    """Keys and add-job builders of every queue a backend or consumer touches, made once."""

    def __init__(self, prefix: str, settings: SettingsBook) -> None:
        self.prefix = prefix
        self.settings = settings
        self._keys: dict[str, QueueKeys] = {}
        self._builders: dict[str, JobBuilder] = {}

    def keys(self, queue: str) -> QueueKeys:
        keys = self._keys.get(queue)
        if keys is None:
            keys = self._keys[queue] = QueueKeys(self.prefix, validate_queue_name(queue))
        return keys

    def builder(self, queue: str) -> JobBuilder:
        builder = self._builders.get(queue)
        if builder is None:
            builder = JobBuilder(self.keys(queue), self.settings[queue])
            self._builders[queue] = builder
        return builder

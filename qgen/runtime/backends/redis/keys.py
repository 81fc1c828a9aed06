"""BullMQ's key layout: every key of one queue, and the KEYS list each script declares."""

from __future__ import annotations

from qgen.runtime.backends.redis.scripts import Encoded, bulk, remember
from qgen.runtime.names import validate_queue_name

_KEY_FIELDS = (
    "active",
    "base",
    "completed",
    "delayed",
    "events",
    "failed",
    "id",
    "limiter",
    "marker",
    "meta",
    "paused",
    "pc",
    "prioritized",
    "repeat",
    "stalled",
    "stalled_check",
    "wait",
    "waiting_children",
)


class QueueKeys:
    """Every key of one BullMQ queue: ``<prefix>:<queue>:<type>``."""

    __slots__ = ("_finished", "active_keys", "queue", *_KEY_FIELDS)

    def __init__(self, prefix: str, queue: str) -> None:
        validate_queue_name(queue)
        self.queue = queue
        self.base = f"{prefix}:{queue}:"  # job keys are base + job id
        b = self.base
        self.active, self.wait, self.paused = b + "active", b + "wait", b + "paused"
        self.completed, self.failed, self.delayed = b + "completed", b + "failed", b + "delayed"
        self.prioritized, self.pc, self.marker = b + "prioritized", b + "pc", b + "marker"
        self.meta, self.events, self.id = b + "meta", b + "events", b + "id"
        self.stalled, self.stalled_check = b + "stalled", b + "stalled-check"
        self.limiter, self.repeat = b + "limiter", b + "repeat"
        self.waiting_children = b + "waiting-children"
        remember(*(getattr(self, k) for k in _KEY_FIELDS), self.queue)
        remember(b + "metrics:completed", b + "metrics:failed")
        self.active_keys = Encoded.of(self.move_to_active())
        self._finished = {
            target: (
                Encoded.of(self.move_to_finished("", target)[:11]),
                Encoded.of(self.move_to_finished("", target)[12:]),
            )
            for target in ("completed", "failed")
        }

    def finished_keys(self, job_id: str, target: str) -> Encoded:
        """move_to_finished's KEYS, encoded from the cached static parts."""
        head, tail = self._finished[target]
        return Encoded(head.blob + bulk(self.base + job_id) + tail.blob, head.n + 1 + tail.n)

    def job(self, job_id: str) -> str:
        return self.base + job_id

    def marked(self, status: str) -> str:
        """qgen's sorted set of this queue's failed jobs that ended ``discarded`` or
        ``cancelled`` (scored by finish time; BullMQ and Node see them as failed). ``#`` is
        never in a qgen job id, so no job key can take this name."""
        return self.base + "qgen#" + status

    @property
    def cancel_requests(self) -> str:
        """qgen's stream of cancel requests for this queue's running jobs (field ``jobId``),
        followed by the worker processes' event reader: a request reaches the worker at once
        instead of at its next lock extension."""
        return self.base + "qgen#cancel-requests"

    # KEYS lists in the order each script declares them.
    def add_standard(self) -> list[str]:
        return [
            self.wait,
            self.paused,
            self.meta,
            self.id,
            self.completed,
            self.delayed,
            self.active,
            self.events,
            self.marker,
        ]

    def add_delayed(self) -> list[str]:
        return [self.marker, self.meta, self.id, self.delayed, self.completed, self.events]

    def add_prioritized(self) -> list[str]:
        return [
            self.marker,
            self.meta,
            self.id,
            self.prioritized,
            self.delayed,
            self.completed,
            self.active,
            self.events,
            self.pc,
        ]

    def move_to_active(self) -> list[str]:
        return [
            self.wait,
            self.active,
            self.prioritized,
            self.events,
            self.stalled,
            self.limiter,
            self.delayed,
            self.paused,
            self.meta,
            self.pc,
            self.marker,
        ]

    def move_to_finished(self, job_id: str, target: str) -> list[str]:
        return [
            self.wait,
            self.active,
            self.prioritized,
            self.events,
            self.stalled,
            self.limiter,
            self.delayed,
            self.paused,
            self.meta,
            self.pc,
            self.completed if target == "completed" else self.failed,
            self.base + job_id,
            self.base + "metrics:" + target,
            self.marker,
        ]

    def move_to_delayed(self, job_id: str) -> list[str]:
        return [
            self.marker,
            self.active,
            self.prioritized,
            self.delayed,
            self.base + job_id,
            self.events,
            self.meta,
            self.stalled,
            self.wait,
            self.limiter,
            self.pc,
        ]

    def retry_job(self, job_id: str) -> list[str]:
        return [
            self.active,
            self.wait,
            self.paused,
            self.base + job_id,
            self.meta,
            self.events,
            self.delayed,
            self.prioritized,
            self.pc,
            self.marker,
            self.stalled,
        ]

    def move_active_to_wait(self) -> list[str]:
        return [
            self.active,
            self.wait,
            self.stalled,
            self.paused,
            self.meta,
            self.limiter,
            self.prioritized,
            self.marker,
            self.events,
        ]

    def move_stalled(self) -> list[str]:
        return [
            self.stalled,
            self.wait,
            self.active,
            self.stalled_check,
            self.meta,
            self.paused,
            self.marker,
            self.events,
            self.repeat,
        ]

    def get_state(self) -> list[str]:
        return [
            self.completed,
            self.failed,
            self.delayed,
            self.active,
            self.wait,
            self.paused,
            self.waiting_children,
            self.prioritized,
        ]

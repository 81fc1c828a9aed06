"""Errors qgen raises, and the ones job functions raise to steer their job."""

from __future__ import annotations

from typing import Any


class QgenError(Exception):
    """Base of every error qgen raises."""


class ConfigError(QgenError):
    """A queue, URL or project setting is wrong; raised at start-up, before any job runs."""


class ValidationFailed(QgenError):
    """Job data does not match the queue's input type. Raised by the client before anything is
    sent; a worker that receives such data fails the job at once, without retry."""

    def __init__(self, queue: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(f"invalid data for queue {queue!r}: {message}")
        self.queue = queue
        self.errors = errors or []


class UnsupportedByBackend(QgenError):
    """The backend cannot do what was asked (for example results on SQS). ``reason`` is the
    capability table's note saying why, when there is one."""

    def __init__(self, backend: str, what: str, reason: str | None = None):
        message = f"the {backend} backend does not support {what}"
        super().__init__(f"{message}: {reason}" if reason else message)
        self.backend = backend
        self.what = what
        self.reason = reason


class PayloadTooLarge(QgenError):
    def __init__(self, queue: str, size: int, limit: int):
        super().__init__(
            f"payload for queue {queue!r} is {size} bytes, over the backend's limit of {limit}"
        )
        self.queue, self.size, self.limit = queue, size, limit


class JobNotFound(QgenError):
    def __init__(self, queue: str, job_id: str):
        super().__init__(f"no job {job_id!r} in queue {queue!r}")
        self.queue, self.job_id = queue, job_id


class JobTimeout(QgenError, TimeoutError):
    """``JobHandle.result(timeout)`` ran out of time before the job finished. ``workers_seen``:
    how many workers of that queue were seen at that URL (None where the backend cannot tell),
    also said in the message: 0 usually means the worker runs on another URL, or not at all."""

    workers_seen: int | None = None


class JobFailedError(QgenError):
    """The job failed for good (or was discarded, or cancelled); raised by
    ``JobHandle.result()``.

    ``error_type`` is the class name of the exception the job raised, ``error_message`` its text.
    """

    def __init__(
        self,
        queue: str,
        job_id: str,
        error_type: str,
        error_message: str,
        discarded: bool = False,
        cancelled: bool = False,
    ):
        kind = "cancelled" if cancelled else "discarded" if discarded else "failed"
        super().__init__(f"job {job_id!r} on {queue!r} {kind}: {error_type}: {error_message}")
        self.queue, self.job_id = queue, job_id
        self.error_type, self.error_message, self.discarded = error_type, error_message, discarded
        self.cancelled = cancelled


class QueueJobFailed(QgenError):
    """Raised by ``interaction.queue.fail(reason)``: this attempt fails and is retried while
    attempts remain."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class QueueJobDiscarded(QgenError):
    """Raised by ``interaction.queue.discard(reason)``: the job ends now,
    with no retry and no dead letter."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidJobId(ConfigError):
    """A ``job_id`` that qgen refuses on every backend (see ``names.validate_job_id``)."""

    def __init__(self, job_id: object, reason: str):
        super().__init__(f"invalid job_id {job_id!r}: {reason}")
        self.job_id, self.reason = job_id, reason


class ResultNotStorable(QgenError):
    """A job returned a value that is not storable JSON (NaN, a lone surrogate, a NUL
    character, nesting too deep, ...). That attempt fails; nothing reaches the backend."""


class BackendUnavailable(QgenError):
    """The backend's server (or file) could not be reached: when connecting, or by a client
    call once the backend's own retries are spent. The message names the backend and the URL
    with its password masked."""

    def __init__(self, backend: str, shown_url: str, reason: str):
        super().__init__(f"cannot connect to the {backend} backend at {shown_url}: {reason}")
        self.backend = backend

"""How the Redis consumer stores each outcome with BullMQ's own scripts.

Completed -> ``moveToFinished`` (completed, returnvalue) fetching the slot's next job in the same
call; Retry -> ``moveToDelayed`` with the runner's delay (its backoff, jitter and max_delay) or
``retryJob`` when the delay is 0; Failed -> ``moveToFinished`` (failed) after adding a copy to the
dead-letter queue; Discarded and Cancelled -> ``moveToFinished`` (failed) with the job marked
discarded or cancelled (its field, and qgen's set of them: ``ops_lua``). The error goes into
BullMQ's ``failedReason``/``stacktrace`` and, whole, into qgen's ``qge`` field.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from qgen.runtime.backends.base import (
    AddOptions,
    Cancelled,
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.backends.redis import ops_lua  # noqa: F401  (registers qgenMark)
from qgen.runtime.backends.redis.jobs import (
    CANCELLED_FIELD,
    DISCARDED_FIELD,
    DLQ_OPTION,
    ERROR_FIELD,
    Catalog,
    dumps,
    from_bull_backoff,
    job_opts,
    keep_jobs,
    max_attempts,
)
from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.scripts import Call, pack
from qgen.runtime.backends.redis.transport import Batcher, ScriptError
from qgen.runtime.interaction import Progress
from qgen.runtime.settings import QueueSettings


def _now_ms() -> int:
    return int(time.time() * 1000)


class Outcomes:
    """Per queue: builds outcome calls, with the job options and packed arguments cached."""

    def __init__(self, catalog: Catalog, settings: QueueSettings) -> None:
        self.catalog, self.queue = catalog, settings.name
        self.keys: QueueKeys = catalog.keys(settings.name)
        self.lock_ms, self.name = settings.lock_duration, settings.worker_name
        self.default_attempts = settings.attempts
        self.keep_complete = settings.completed_retention.to_bull()
        self.keep_fail = settings.failed_retention.to_bull()
        self._opts_cache: dict[Any, tuple[dict[str, Any], int, Any]] = {}
        self._finish_cache: dict[tuple[Any, ...], bytes] = {}

    def options(self, raw: Any) -> tuple[dict[str, Any], int, Any]:
        """(options, max attempts, backoff) of a job; jobs of one producer share the same
        options text, so the parse is cached (the dicts are never changed)."""
        hit = self._opts_cache.get(raw)
        if hit is None:
            opts = job_opts({"opts": raw})
            hit = (
                opts,
                max_attempts(opts, self.default_attempts),
                from_bull_backoff(opts.get("backoff")),
            )
            if len(self._opts_cache) < 256:
                self._opts_cache[raw] = hit
        return hit

    def _finish_opts(self, token: str, keep: Any, attempts: int, made: int) -> bytes:
        key = (token, keep if isinstance(keep, bool | int | None) else repr(keep), attempts, made)
        packed = self._finish_cache.get(key)
        if packed is None:
            packed = self._pack_finish(token, keep, attempts, made)
            if len(self._finish_cache) < 4096:
                self._finish_cache[key] = packed
        return packed

    def _pack_finish(self, token: str, keep: Any, attempts: int, made: int) -> bytes:
        opts: dict[str, Any] = {
            "token": token,
            "keepJobs": keep_jobs(keep),
            "limiter": None,
            "lockDuration": self.lock_ms,
            "attempts": attempts,
            "attemptsMade": made,
            "maxMetricsSize": "",
            "fpof": False,
            "cpof": False,
            "idof": False,
            "rdof": False,
        }
        if self.name:
            opts["name"] = self.name
        return pack(opts)

    def calls(
        self,
        d: Delivery,
        opts: dict[str, Any],
        outcome: Outcome,
        token: str,
        fetch_opts: bytes,
        stopping: bool,
    ) -> list[Call]:
        """The script calls that store ``outcome`` natively (and fetch the slot's next job
        unless ``stopping``)."""
        fetch = "0" if stopping else "1"
        jid, k, now = d.job_id, self.keys, _now_ms()
        if isinstance(outcome, Completed):
            keep = opts.get("removeOnComplete", self.keep_complete)
            packed = self._finish_opts(token, keep, d.max_attempts, d.attempt - 1)
            args = [jid, now, "returnvalue", dumps(outcome.result), "completed", fetch, k.base]
            return [("moveToFinished", k.finished_keys(jid, "completed"), [*args, packed])]
        if isinstance(outcome, Retry):
            update = _fields(outcome.error)
            delay_ms = max(int(outcome.delay * 1000), 0)
            if delay_ms:
                args = [k.base, now, jid, token, delay_ms, "0", update, fetch, fetch_opts]
                return [("moveToDelayed", k.move_to_delayed(jid), args)]
            return [("retryJob", k.retry_job(jid), [k.base, now, "LPUSH", jid, token, update])]
        calls: list[Call] = []
        if isinstance(outcome, Failed):
            error, extra = outcome.error, {}
            if outcome.dead_letter:
                builder = self.catalog.builder(outcome.dead_letter)
                copy_id = f"{self.queue}-{jid}"
                options = _dlq_options(copy_id, self.queue, jid, d.meta)
                calls.append(builder.add_call(d.data, options, trusted_id=copy_id))
            reason = error.message
        elif isinstance(outcome, Cancelled):
            error, extra = ErrorInfo("Cancelled", outcome.reason), {CANCELLED_FIELD: "1"}
            reason = f"Cancelled: {outcome.reason}"
            calls.append(_mark(k, "cancelled", jid, token, now))
        else:
            assert isinstance(outcome, Discarded)
            error, extra = ErrorInfo("Discarded", outcome.reason), {DISCARDED_FIELD: "1"}
            reason = error.message
            calls.append(_mark(k, "discarded", jid, token, now))
        keep = opts.get("removeOnFail", self.keep_fail)
        packed = self._finish_opts(token, keep, d.max_attempts, d.attempt - 1)
        update = _fields(error, extra, reason)
        args = [jid, now, "failedReason", reason, "failed", fetch, k.base, packed, update]
        calls.append(("moveToFinished", k.finished_keys(jid, "failed"), args))
        return calls


class ProgressReport:
    """``delivery.report_progress`` of one job: BullMQ's updateProgress (stored and published
    as a ``progress`` event that Node's QueueEvents sees)."""

    __slots__ = ("batcher", "job_id", "keys")

    def __init__(self, batcher: Batcher, keys: QueueKeys, job_id: str) -> None:
        self.batcher, self.keys, self.job_id = batcher, keys, job_id

    async def report(self, value: Progress) -> None:
        k = self.keys
        call: Call = (
            "updateProgress",
            [k.job(self.job_id), k.events, k.meta],
            [self.job_id, dumps(value)],
        )
        reply = await self.batcher.run(call)
        if isinstance(reply, int) and reply < 0:
            raise ScriptError("updateProgress", reply, self.job_id)


def _fields(error: ErrorInfo, extra: dict[str, str] | None = None, reason: str = "") -> bytes:
    values: dict[str, str] = {
        "failedReason": reason or error.message,
        "stacktrace": dumps([error.traceback] if error.traceback else []),
        ERROR_FIELD: dumps(error.to_json()),
        **(extra or {}),
    }
    flat: list[str] = []
    for key, value in values.items():
        flat += [key, value]
    return pack(flat)


def _mark(k: QueueKeys, status: str, job_id: str, token: str, now: int) -> Call:
    """qgen's set of discarded (or cancelled) jobs, while this worker holds the job's lock."""
    return ("qgenMark", [k.marked(status), k.job(job_id) + ":lock"], [now, job_id, token])


def _dlq_options(
    copy_id: str, queue: str, job_id: str, meta: Mapping[str, str] | None
) -> AddOptions:
    """The copy's options: where it failed, and the job's meta (its trace context, ``tm``)."""
    source = {"queue": queue, "id": job_id}
    return AddOptions(job_id=copy_id, extra={DLQ_OPTION: source}, meta=meta)

"""``--log-format json``: one JSON object per line, on every record of every logger (the
user's inside a job too) with the queue, job id, attempt, trace id and span id.

The queue and job id come from :mod:`qgen.runtime.logs` (context variables the runner binds);
the attempt from :data:`_attempt`, bound by the worker's telemetry around each attempt; trace
and span ids from the current OpenTelemetry span, read only when OpenTelemetry is already
imported (tracing on). All are captured when the record is made, so a handler formatting it
later or in another thread prints the ids of the job that logged it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Any

from qgen.runtime import logs
from qgen.runtime.urls import mask_url

_attempt: contextvars.ContextVar[int | None] = contextvars.ContextVar("qgen_attempt", default=None)

_installed = False


def installed() -> bool:
    """Do records capture the attempt (:func:`install` ran)? If not, nothing reads it."""
    return _installed


def bind_attempt(attempt: int) -> contextvars.Token[int | None]:
    return _attempt.set(attempt)


def unbind_attempt(token: contextvars.Token[int | None]) -> None:
    _attempt.reset(token)


def _ids() -> tuple[str, str] | None:
    if "opentelemetry.trace" not in sys.modules:
        return None
    from qgen.runtime.telemetry.tracing import current_ids

    return current_ids()


def install() -> None:
    """Capture the attempt and the trace ids on every record (idempotent)."""
    global _installed
    if _installed:
        return
    logs.install()
    old = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = old(*args, **kwargs)
        d = record.__dict__
        d["_qgen_attempt"] = _attempt.get()
        d["_qgen_trace"] = _ids()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, queue,
    job_id, attempt, trace_id, span_id (null outside a job or a span), and ``exception``
    (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        d = record.__dict__
        logs.materialize(record)
        queue, job_id = d.get("queue"), d.get("job_id")
        ids = d.get("_qgen_trace")
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_url(message) if "://" in message else message,
            "queue": None if queue in (None, "-") else queue,
            "job_id": None if job_id in (None, "-") else job_id,
            "attempt": d.get("_qgen_attempt"),
            "trace_id": ids[0] if ids else None,
            "span_id": ids[1] if ids else None,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_json(level: int = logging.INFO) -> None:
    """The worker's logging with ``--log-format json``: stderr, one object per line."""
    install()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)

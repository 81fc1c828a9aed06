"""Queue name and job id on every log record.

The runner binds ``queue`` and ``job_id`` in context variables while a job runs (they follow the
job into its worker thread and into tasks it starts). :func:`install` wraps the logging record
factory so that EVERY record, from any logger (the user's too), carries ``record.queue`` and
``record.job_id`` ("-" outside a job). A record factory is used rather than a logging.Filter
because filters on a logger do not see records propagated from child loggers.

The factory stores the values under private keys and exposes them through non-data descriptors
on a LogRecord subclass, so ``logger.info(..., extra={"queue": q})`` (which ``makeRecord``
refuses for keys already in the record's ``__dict__``) keeps working and wins. ``%``-style
formats read ``__dict__``: :class:`ContextFormatter` and :class:`ContextFilter` (for any handler)
copy the two values there before formatting.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from qgen.runtime.urls import mask_url

_queue: contextvars.ContextVar[str | None] = contextvars.ContextVar("qgen_queue", default=None)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("qgen_job_id", default=None)

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(queue)s %(job_id)s] %(message)s"

_installed = False


class _FromContext:
    """Non-data descriptor: an instance attribute of the same name (from ``extra``) wins."""

    def __init__(self, slot: str) -> None:
        self.slot = slot

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.__dict__.get(self.slot) or "-"


class QgenLogRecord(logging.LogRecord):
    queue = _FromContext("_qgen_queue")
    job_id = _FromContext("_qgen_job_id")


@contextlib.contextmanager
def job_context(queue: str | None, job_id: str | None = None) -> Iterator[None]:
    """Bind the queue (and job id) for records logged inside the block."""
    tq = _queue.set(queue)
    tj = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(tj)
        _queue.reset(tq)


def bind(queue: str | None, job_id: str | None) -> tuple[Any, Any]:
    """Like :func:`job_context` without a generator (the runner's hot path); pass the result
    to :func:`unbind`."""
    return _queue.set(queue), _job_id.set(job_id)


def unbind(tokens: tuple[Any, Any]) -> None:
    _job_id.reset(tokens[1])
    _queue.reset(tokens[0])


def current() -> tuple[str | None, str | None]:
    return _queue.get(), _job_id.get()


def install() -> None:
    """Wrap the record factory once per process (idempotent)."""
    global _installed
    if _installed:
        return
    old = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = old(*args, **kwargs)
        record.__dict__["_qgen_queue"] = _queue.get()
        record.__dict__["_qgen_job_id"] = _job_id.get()
        if type(record) is logging.LogRecord:
            record.__class__ = QgenLogRecord
        else:  # another library's record class: plain attributes (no ``extra`` override)
            materialize(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def materialize(record: logging.LogRecord) -> logging.LogRecord:
    """Make ``queue`` and ``job_id`` plain attributes of ``record`` (for ``%`` formats)."""
    d = record.__dict__
    d.setdefault("queue", d.get("_qgen_queue") or "-")
    d.setdefault("job_id", d.get("_qgen_job_id") or "-")
    return record


class ContextFilter(logging.Filter):
    """Add to any handler whose format uses ``%(queue)s`` / ``%(job_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        materialize(record)
        return True


class ContextFormatter(logging.Formatter):
    """The worker CLI's formatter: ``FORMAT`` by default, queue and job id on each line."""

    def __init__(self, fmt: str | None = FORMAT, *args: Any, **kwargs: Any) -> None:
        super().__init__(fmt, *args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(materialize(record))
        # A driver's message may quote a URL with its password (an SQS endpoint_url, ...).
        return mask_url(text) if "://" in text else text


def configure_cli(level: int = logging.INFO) -> None:
    """Logging for the worker's command line: stderr, with queue and job id on each line."""
    install()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(ContextFormatter())
        root.addHandler(handler)
    root.setLevel(level)

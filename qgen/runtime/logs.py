"""Queue name and job id on every log record.

The runner binds ``queue`` and ``job_id`` in context variables while a job runs (they follow the
job into its worker thread and into tasks it starts). :func:`install` wraps the logging record
factory so that EVERY record, from any logger (the user's too), carries ``record.queue`` and
``record.job_id`` ("-" outside a job). A record factory is used rather than a logging.Filter
because filters on a logger do not see records propagated from child loggers.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

_queue: contextvars.ContextVar[str | None] = contextvars.ContextVar("qgen_queue", default=None)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("qgen_job_id", default=None)

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(queue)s %(job_id)s] %(message)s"

_installed = False


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
        # extra={"queue": ...} passed by a caller is applied after the factory and wins.
        record.queue = _queue.get() or "-"
        record.job_id = _job_id.get() or "-"
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def configure_cli(level: int = logging.INFO) -> None:
    """Logging for the worker's command line: stderr, with queue and job id on each line."""
    install()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)

"""Prometheus metrics of a worker process (qgen[metrics]: prometheus-client), the same names
and labels on every backend. Served at ``/metrics`` by ``--metrics-port``.

Counters count attempts the runner ran, by how they ended; the histogram times them; two gauges
per queue come from a sampler (:class:`Sampler`) that reads the backend at a bounded rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from qgen.runtime.backends.base import (
    Backend,
    Cancelled,
    Completed,
    Discarded,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.errors import UnsupportedByBackend

log = logging.getLogger("qgen.metrics")

LABELS = ("backend", "queue")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
OUTCOMES = ("completed", "retried", "failed", "discarded", "cancelled")

STARTED = Counter("qgen_jobs_started", "Attempts started by this worker.", LABELS)
COMPLETED = Counter("qgen_jobs_completed", "Jobs completed.", LABELS)
FAILED = Counter(
    "qgen_jobs_failed", "Jobs failed for good (no attempt left).", (*LABELS, "error_type")
)
RETRIED = Counter(
    "qgen_jobs_retried", "Failed attempts with a retry to come.", (*LABELS, "error_type")
)
DISCARDED = Counter("qgen_jobs_discarded", "Jobs discarded by the job itself.", LABELS)
CANCELLED = Counter("qgen_jobs_cancelled", "Running jobs cancelled by an operator.", LABELS)
DURATION = Histogram(
    "qgen_job_attempt_duration_seconds",
    "Time of one attempt (validation, middleware, the function), by outcome.",
    (*LABELS, "outcome"),
    buckets=BUCKETS,
)
WAITING = Gauge("qgen_queue_waiting_jobs", "Jobs waiting to run (sampled).", LABELS)
OLDEST = Gauge(
    "qgen_queue_oldest_waiting_age_seconds",
    "Age of the oldest waiting job, 0 when none waits (sampled).",
    LABELS,
)


class QueueMetrics:
    """The children of one queue, bound once (a label lookup per job costs more)."""

    __slots__ = (
        "_failed",
        "_labels",
        "_retried",
        "cancelled",
        "completed",
        "discarded",
        "durations",
        "started",
    )

    def __init__(self, backend: str, queue: str) -> None:
        self._labels = (backend, queue)
        self.started = STARTED.labels(backend, queue)
        self.completed = COMPLETED.labels(backend, queue)
        self.discarded = DISCARDED.labels(backend, queue)
        self.cancelled = CANCELLED.labels(backend, queue)
        self.durations = {o: DURATION.labels(backend, queue, o) for o in OUTCOMES}
        self._failed: dict[str, Any] = {}
        self._retried: dict[str, Any] = {}

    def _by_type(self, table: dict[str, Any], counter: Counter, error_type: str) -> Any:
        child = table.get(error_type)
        if child is None:
            child = table[error_type] = counter.labels(*self._labels, error_type)
        return child

    def record(self, outcome: Outcome, seconds: float) -> None:
        if isinstance(outcome, Completed):
            self.completed.inc()
            key = "completed"
        elif isinstance(outcome, Retry):
            self._by_type(self._retried, RETRIED, outcome.error.type).inc()
            key = "retried"
        elif isinstance(outcome, Failed):
            self._by_type(self._failed, FAILED, outcome.error.type).inc()
            key = "failed"
        elif isinstance(outcome, Discarded):
            self.discarded.inc()
            key = "discarded"
        else:
            assert isinstance(outcome, Cancelled)
            self.cancelled.inc()
            key = "cancelled"
        self.durations[key].observe(seconds)


def serve(port: int, host: str) -> Any:
    """Start the ``/metrics`` endpoint in a thread; returns the server (``shutdown()``)."""
    server, _thread = start_http_server(port, addr=host)
    log.info("metrics at http://%s:%d/metrics", host, server.server_port)
    return server


class Sampler:
    """Samples each queue's waiting depth (the operator API's ``counts``) and the age of its
    oldest waiting job (``oldest_waiting``), one queue at a time: at most ``1 / MIN_GAP``
    reads per second whatever the number of queues, each queue every ``interval`` seconds or
    ``MIN_GAP * queues``, whichever is longer. A read the backend does not support is
    dropped for good (logged once); other errors are logged and tried again next time."""

    MIN_GAP = 0.2

    def __init__(self, conn: Backend, backend: str, queues: Sequence[str], interval: float) -> None:
        self.conn, self.backend, self.queues = conn, backend, list(queues)
        self.gap = max(interval / max(1, len(self.queues)), self.MIN_GAP)
        self.counts_ok = True
        self.oldest_ok = True

    async def run(self) -> None:
        while self.counts_ok or self.oldest_ok:
            for queue in self.queues:
                await self.sample(queue)
                await asyncio.sleep(self.gap)

    async def sample(self, queue: str) -> None:
        if self.counts_ok:
            try:
                counts = await self.conn.counts(queue)
                WAITING.labels(self.backend, queue).set(counts.waiting)
            except (UnsupportedByBackend, AttributeError) as exc:  # AttributeError: not there
                self.counts_ok = False
                log.info("metrics: no waiting depth on %s: %s", self.backend, exc)
            except Exception as exc:
                log.warning("metrics: counting queue %s failed: %s", queue, exc)
        if self.oldest_ok:
            try:
                oldest = await self.conn.oldest_waiting(queue)
                age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
                OLDEST.labels(self.backend, queue).set(age)
            except (UnsupportedByBackend, AttributeError) as exc:  # AttributeError: not there
                self.oldest_ok = False
                log.info("metrics: no oldest waiting age on %s: %s", self.backend, exc)
            except Exception as exc:
                log.warning("metrics: reading queue %s's oldest job failed: %s", queue, exc)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

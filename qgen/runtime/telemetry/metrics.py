"""Prometheus metrics of a worker process (qgen[metrics]: prometheus-client), the same names
and labels on every backend. Served at ``/metrics`` by ``--metrics-port``.

Counters count attempts the runner ran, by how they ended; the histogram times them; two gauges
per queue come from a sampler (:class:`Sampler`) that reads the backend at a bounded rate.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import REGISTRY, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from qgen.runtime.backends.base import (
    Backend,
    Cancelled,
    Completed,
    Discarded,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.cancel import cancel_safe
from qgen.runtime.errors import UnsupportedByBackend

log = logging.getLogger("qgen.metrics")

LABELS = ("backend", "queue")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
OUTCOMES = ("completed", "retried", "failed", "discarded", "cancelled")
COUNTERS = (  # name (``_total`` added when exposed), help, QueueMetrics attribute
    ("qgen_jobs_started", "Attempts started by this worker.", "started"),
    ("qgen_jobs_completed", "Jobs completed.", "completed"),
    ("qgen_jobs_discarded", "Jobs discarded by the job itself.", "discarded"),
    ("qgen_jobs_cancelled", "Running jobs cancelled by an operator.", "cancelled"),
)
BY_TYPE = (
    ("qgen_jobs_failed", "Jobs failed for good (no attempt left), by error type.", "failed"),
    ("qgen_jobs_retried", "Failed attempts with a retry to come, by error type.", "retried"),
)
DURATION = "qgen_job_attempt_duration_seconds"
DURATION_HELP = "Time of one attempt (validation, middleware, the function), by outcome."

WAITING = Gauge("qgen_queue_waiting_jobs", "Jobs waiting to run (sampled).", LABELS)
OLDEST = Gauge(
    "qgen_queue_oldest_waiting_age_seconds",
    "Age of the oldest waiting job, 0 when none waits (sampled).",
    LABELS,
)


class Durations:
    """A histogram kept as plain numbers (the event loop's thread writes, the scrape reads)."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last: above every bound
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, n in zip(BUCKETS, self.buckets, strict=False):
            total += n
            out.append((repr(float(bound)), float(total)))
        out.append(("+Inf", float(self.count)))
        return out


class QueueMetrics:
    """One queue's counts, as plain integers: counting a job costs no lock and no label
    lookup; :class:`Collector` turns them into Prometheus metrics when ``/metrics`` is read."""

    __slots__ = (
        "cancelled",
        "completed",
        "discarded",
        "durations",
        "failed",
        "retried",
        "started",
    )

    def __init__(self) -> None:
        self.started = self.completed = self.discarded = self.cancelled = 0
        self.failed: dict[str, int] = {}
        self.retried: dict[str, int] = {}
        self.durations = {o: Durations() for o in OUTCOMES}

    def record(self, outcome: Outcome, seconds: float) -> None:
        if isinstance(outcome, Completed):
            self.completed += 1
            key = "completed"
        elif isinstance(outcome, Retry):
            t = outcome.error.type
            self.retried[t] = self.retried.get(t, 0) + 1
            key = "retried"
        elif isinstance(outcome, Failed):
            t = outcome.error.type
            self.failed[t] = self.failed.get(t, 0) + 1
            key = "failed"
        elif isinstance(outcome, Discarded):
            self.discarded += 1
            key = "discarded"
        else:
            assert isinstance(outcome, Cancelled)
            self.cancelled += 1
            key = "cancelled"
        self.durations[key].observe(seconds)


class Collector:
    """The job metrics of every queue this process serves, read at scrape time."""

    def __init__(self) -> None:
        self.queues: dict[tuple[str, str], QueueMetrics] = {}

    def queue(self, backend: str, queue: str) -> QueueMetrics:
        m = self.queues.get((backend, queue))
        if m is None:
            m = self.queues[(backend, queue)] = QueueMetrics()
        return m

    def collect(self) -> Iterator[Metric]:
        queues = list(self.queues.items())
        for name, text, attr in COUNTERS:
            family = CounterMetricFamily(name, text, labels=LABELS)
            for labels, m in queues:
                family.add_metric(labels, getattr(m, attr))
            yield family
        for name, text, attr in BY_TYPE:
            family = CounterMetricFamily(name, text, labels=(*LABELS, "error_type"))
            for labels, m in queues:
                for error_type, n in list(getattr(m, attr).items()):
                    family.add_metric((*labels, error_type), n)
            yield family
        hist = HistogramMetricFamily(DURATION, DURATION_HELP, labels=(*LABELS, "outcome"))
        for labels, m in queues:
            for outcome, d in m.durations.items():
                hist.add_metric((*labels, outcome), d.cumulative(), sum_value=d.sum)
        yield hist


COLLECTOR = Collector()
REGISTRY.register(COLLECTOR)


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
        # Both reads come first and both gauges are set together, so a scrape does not see a
        # queue's new depth beside a missing or stale age.
        waiting = await self._waiting(queue) if self.counts_ok else None
        age = await self._age(queue) if self.oldest_ok else None
        if waiting is not None:
            WAITING.labels(self.backend, queue).set(waiting)
        if age is not None:
            OLDEST.labels(self.backend, queue).set(age)

    async def _waiting(self, queue: str) -> int | None:
        try:
            return (await cancel_safe(self.conn.counts(queue))).waiting
        except (UnsupportedByBackend, AttributeError) as exc:  # AttributeError: not there
            self.counts_ok = False
            log.info("metrics: no waiting depth on %s: %s", self.backend, exc)
        except Exception as exc:
            log.warning("metrics: counting queue %s failed: %s", queue, exc)
        return None

    async def _age(self, queue: str) -> float | None:
        try:
            oldest = await cancel_safe(self.conn.oldest_waiting(queue))
        except (UnsupportedByBackend, AttributeError) as exc:  # AttributeError: not there
            self.oldest_ok = False
            log.info("metrics: no oldest waiting age on %s: %s", self.backend, exc)
        except Exception as exc:
            log.warning("metrics: reading queue %s's oldest job failed: %s", queue, exc)
        else:
            return 0.0 if oldest is None else max(0.0, time.time() - oldest)
        return None


async def stop_task(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""A worker process's telemetry: the job handler wrapped with a span, metrics and the attempt
for the logs; the metrics endpoint and the queue sampler. Built by
``telemetry.worker_started``; with everything off, :meth:`WorkerTelemetry.wrap` returns the
handler itself (no cost)."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qgen.runtime.backends.base import Backend, Delivery, Handler, Outcome
from qgen.runtime.errors import ConfigError
from qgen.runtime.telemetry import jsonlog, trace_every_attempt

if TYPE_CHECKING:
    from qgen.runtime.settings import QueueSettings
    from qgen.runtime.telemetry import Settings
    from qgen.runtime.telemetry.metrics import QueueMetrics

log = logging.getLogger("qgen.telemetry")


class WorkerTelemetry:
    def __init__(self, backend: str, tracing: bool) -> None:
        self.backend = backend
        self.tracing = tracing
        self.queue_metrics: dict[str, QueueMetrics] | None = None
        self._server: Any = None
        self._sampler: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        conn: Backend,
        backend: str,
        queues: Sequence[QueueSettings],
        settings: Settings,
        tracing: bool,
    ) -> WorkerTelemetry:
        self = cls(backend, tracing)
        if settings.metrics_port is not None:
            try:
                from qgen.runtime.telemetry import metrics
            except ImportError as exc:
                raise ConfigError(
                    f"--metrics-port needs prometheus-client: pip install 'qgen[metrics]' ({exc})"
                ) from exc
            names = [q.name for q in queues]
            self.queue_metrics = {n: metrics.COLLECTOR.queue(backend, n) for n in names}
            try:
                self._server = metrics.serve(settings.metrics_port, settings.metrics_host)
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: "
                    f"{exc}"
                ) from exc
            sampler = metrics.Sampler(conn, backend, names, settings.sample_interval)
            self._sampler = asyncio.create_task(sampler.run(), name="qgen-metrics-sampler")
        return self

    async def close(self) -> None:
        if self._sampler is not None:
            from qgen.runtime.telemetry.metrics import stop_task

            await stop_task(self._sampler)
            self._sampler = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wrap(self, handle: Handler) -> Handler:
        """``handle`` with a span per attempt (tracing on), the metrics (``--metrics-port``)
        and the attempt bound for the logs."""
        qm = self.queue_metrics
        if not self.tracing:
            return _measured(handle, qm)
        from qgen.runtime.telemetry import tracing

        if not tracing.sdk_configured():  # checked once: services (which may set it) are up
            log.info("tracing: no OpenTelemetry SDK is configured; attempts make no spans")
            return _measured(handle, qm)

        attempts = tracing.Attempts(self.backend, every=trace_every_attempt())
        start, stop = attempts.start, attempts.stop

        async def traced(delivery: Delivery) -> Outcome:
            t0 = time.perf_counter()
            m = None if qm is None else qm.get(delivery.queue)
            if m is not None:
                m.started += 1
            span, ctx_token = start(delivery)
            token = jsonlog.bind_attempt(delivery.attempt)
            outcome: Outcome | None = None
            try:
                outcome = await handle(delivery)
                return outcome
            finally:
                jsonlog.unbind_attempt(token)
                stop(span, ctx_token, outcome, sys.exception())
                if m is not None and outcome is not None:
                    m.record(outcome, time.perf_counter() - t0)

        return traced


def _measured(handle: Handler, qm: dict[str, QueueMetrics] | None) -> Handler:
    """Without tracing: metrics (when on) and the attempt for the logs; ``handle`` itself when
    neither is wanted (no metrics, and no JSON log records that would read the attempt)."""
    if qm is None and not jsonlog.installed():
        return handle

    async def measured(delivery: Delivery) -> Outcome:
        t0 = time.perf_counter()
        m = None if qm is None else qm.get(delivery.queue)
        if m is not None:
            m.started += 1
        token = jsonlog.bind_attempt(delivery.attempt)
        try:
            outcome = await handle(delivery)
        finally:
            jsonlog.unbind_attempt(token)
        if m is not None:
            m.record(outcome, time.perf_counter() - t0)
        return outcome

    return measured

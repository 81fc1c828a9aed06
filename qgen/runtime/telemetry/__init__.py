"""Traces, metrics and JSON logs (issue 17): the switches, and the hooks the client and the
worker call. Importing this package imports neither OpenTelemetry nor prometheus-client.

- Tracing (``qgen[otel]``: opentelemetry-api) is on when the API is installed, unless
  ``QGEN_TRACING=off``. Without an SDK configured by the application, the API's spans are
  no-ops and nothing is stored with the jobs.
- Metrics (``qgen[metrics]``: prometheus-client) are on in a worker given ``--metrics-port``
  (or ``QGEN_METRICS_PORT``), which serves ``/metrics`` on that port.
- ``--log-format json`` (or ``QGEN_LOG_FORMAT=json``): one JSON object per log line.

See docs/observability.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from qgen.runtime import logs
from qgen.runtime.backends.base import JSON, AddOptions, Handler

if TYPE_CHECKING:
    from qgen.runtime.backends.base import Backend
    from qgen.runtime.settings import QueueSettings
    from qgen.runtime.telemetry.worker import WorkerTelemetry

_OFF = ("0", "off", "false", "no")
LOG_FORMATS = ("text", "json")


@dataclass
class Settings:
    """What a worker process turns on; set from the command line (or the environment)."""

    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    sample_interval: float = 15.0  # seconds between samples of each queue's depth
    log_format: str = "text"


settings = Settings()


def tracing_wanted() -> bool:
    """True when opentelemetry-api is installed and ``QGEN_TRACING`` is not off. Looked up
    without importing OpenTelemetry."""
    if os.environ.get("QGEN_TRACING", "auto").strip().lower() in _OFF:
        return False
    return importlib.util.find_spec("opentelemetry") is not None


def trace_every_attempt() -> bool:
    """``QGEN_TRACING=all``: ask the SDK's sampler for a span for every attempt, even of a job
    whose producer was not sampled (by default such an attempt runs in the producer's context
    with no span of its own, as the SDK's default parent-based sampler would have it)."""
    return os.environ.get("QGEN_TRACING", "auto").strip().lower() == "all"


class Producer(Protocol):
    """The client's add path with a producer span around it (``tracing.PRODUCER``)."""

    async def enqueue(
        self, backend: Backend, system: str, queue: str, data: JSON, options: AddOptions
    ) -> str: ...

    async def enqueue_many(
        self,
        backend: Backend,
        system: str,
        queue: str,
        items: Sequence[tuple[JSON, AddOptions]],
    ) -> list[str]: ...


_producer: Producer | None = None
_producer_known = False


def producer() -> Producer | None:
    """The traced add path, or None when tracing is off (decided once per process; tests and
    the bench call :func:`reset`)."""
    global _producer, _producer_known
    if not _producer_known:
        _producer = None
        if tracing_wanted():
            try:
                from qgen.runtime.telemetry.tracing import PRODUCER
            except ImportError as exc:  # another opentelemetry-* package, not the API
                logging.getLogger("qgen.telemetry").warning("tracing is off: %s", exc)
            else:
                _producer = PRODUCER
        _producer_known = True
    return _producer


def reset() -> None:
    """Decide again whether tracing is on (after ``QGEN_TRACING`` changed)."""
    global _producer_known
    _producer_known = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's flags: ``--metrics-port``, ``--metrics-host``, ``--log-format``."""
    env = os.environ
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=env.get("QGEN_METRICS_PORT") or None,  # argparse converts a string default
        help="serve Prometheus metrics on this port at /metrics (qgen[metrics])",
    )
    parser.add_argument("--metrics-host", default=env.get("QGEN_METRICS_HOST", "0.0.0.0"))
    parser.add_argument(
        "--metrics-interval",
        type=float,
        default=env.get("QGEN_METRICS_INTERVAL", "15"),
        help="seconds between samples of each queue's waiting depth and oldest job age",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=env.get("QGEN_LOG_FORMAT", "text"),
        help="json: one JSON object per line with queue, job id, attempt, trace and span ids",
    )


def configure_cli(args: argparse.Namespace) -> None:
    """Logging (text or JSON) and the metrics port of a worker started from the command line."""
    level = getattr(logging, str(args.log_level).upper(), logging.INFO)
    settings.metrics_port = args.metrics_port
    settings.metrics_host = args.metrics_host
    settings.sample_interval = max(0.5, float(args.metrics_interval))
    settings.log_format = args.log_format
    _preload(metrics=args.metrics_port is not None)
    if args.log_format == "json":
        from qgen.runtime.telemetry.jsonlog import configure_json

        configure_json(level)
    else:
        logs.configure_cli(level)


def _preload(metrics: bool) -> None:
    """Import what the worker's telemetry will use now, at start-up, not while the first jobs
    run (prometheus-client takes ~50 ms to import here). A missing package is reported later,
    where the worker checks its settings."""
    with contextlib.suppress(ImportError):
        if metrics:
            importlib.import_module("qgen.runtime.telemetry.metrics")
        if tracing_wanted():
            importlib.import_module("qgen.runtime.telemetry.tracing")


def instrument(handle: Handler, backend: str) -> Handler:
    """``handle`` with a span per attempt (tracing on) and the attempt bound for the logs, no
    metrics: the Lambda host's."""
    from qgen.runtime.telemetry.worker import WorkerTelemetry

    return WorkerTelemetry(backend, producer() is not None).wrap(handle)


async def worker_started(
    conn: Backend, backend: str, queues: Sequence[QueueSettings]
) -> WorkerTelemetry:
    """Start what ``settings`` asks for in a worker process (the metrics endpoint and the queue
    sampler); its ``wrap`` instruments the job handler, its ``close`` stops it all."""
    from qgen.runtime.telemetry.worker import WorkerTelemetry

    tracing = producer() is not None  # the API imports
    return await WorkerTelemetry.start(conn, backend, queues, settings, tracing)

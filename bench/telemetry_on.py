"""Telemetry for ``bench/throughput.py --telemetry on``: the OpenTelemetry SDK as an application
configures it (a TracerProvider with a BatchSpanProcessor), exporting to nothing, so the figures
count making, recording and batching spans but no network.

    python bench/telemetry_on.py <worker module> [worker args]   # a traced worker process

:func:`install` does the same in the bench process itself (the producer side).
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class Discard(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def install() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)


if __name__ == "__main__":
    install()
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)

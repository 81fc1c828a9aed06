"""Runs a generated worker module with the OpenTelemetry SDK configured, as an application
would: ``python traced_worker.py <spans file> <worker module> [worker args]``. Every span the
worker ends is written to the spans file at once (``spans.JsonLinesExporter``)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from spans import JsonLinesExporter

if __name__ == "__main__":
    spans_file, module, *args = sys.argv[1:]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(Path(spans_file))))
    trace.set_tracer_provider(provider)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)

"""Telemetry for ``bench/throughput.py --telemetry on`` (and ``sampled``): the OpenTelemetry SDK as
an application configures it (a TracerProvider with a BatchSpanProcessor), exporting to nothing,
so the figures count making, recording and batching spans but no network.

    python bench/telemetry_on.py <worker module> [worker args]   # a traced worker process

``QGEN_BENCH_TRACE_RATIO`` (default 1) is the share of traces kept: the provider's sampler is
``ParentBased`` (a worker keeps the attempts of the jobs whose producer span was kept, as with
``OTEL_TRACES_SAMPLER=parentbased_traceidratio``) with a root sampler that keeps one root span
in ``1 / ratio`` by counting. Counting, not ``TraceIdRatioBased``: the bench adds its jobs in
ten ``add_many`` batches of 1,000, each one trace, and a random 10% would keep anywhere from
none to three of them, so rounds would not compare. :func:`install` does the same in the bench
process itself (the producer side); :func:`sample` changes the ratio there.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult


class Discard(SpanExporter):
    """Takes every batch and keeps nothing."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class EveryNth(Sampler):
    """Keeps the first root span of every ``n``."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, 0

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        keep = self.seen % self.n == 0
        self.seen += 1
        return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else Decision.DROP)

    def get_description(self) -> str:
        return f"EveryNth({self.n})"


class Switchable(Sampler):
    """ParentBased(EveryNth(1 / ratio)) whose ratio the bench process changes between modes (a
    process has one tracer provider)."""

    def __init__(self, ratio: float) -> None:
        self.inner: Sampler = ParentBased(EveryNth(round(1 / ratio)))

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return self.inner.should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return f"Switchable({self.inner.get_description()})"


_SAMPLER = Switchable(1.0)


def ratio_from_env() -> float:
    return float(os.environ.get("QGEN_BENCH_TRACE_RATIO", "1"))


def install() -> None:
    sample(ratio_from_env())
    provider = TracerProvider(sampler=_SAMPLER)
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)


def sample(ratio: float) -> None:
    _SAMPLER.inner = ParentBased(EveryNth(round(1 / ratio)))


if __name__ == "__main__":
    install()
    module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)

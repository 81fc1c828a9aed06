"""OpenTelemetry spans (qgen[otel]: opentelemetry-api only; the application configures the SDK).

Producer: ``add`` / ``add_many`` run inside a PRODUCER span ``send <queue>``; the W3C trace
context of that span (the global propagator's fields: ``traceparent``, ``tracestate``) goes
with each job in ``AddOptions.meta``, which every backend stores beside the data, never in it.
``add_many`` makes one span for the batch; each of its jobs carries that span's context.

Consumer: every attempt is its own CONSUMER span ``process <queue>``, a child of the producer
span when the job carries a context (a retried job's attempts are sibling spans in the same
trace), with OpenTelemetry's messaging attributes, ``qgen.attempt``, ``qgen.outcome`` and, on
a failed attempt, ``error.type`` and an error status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, StatusCode

from qgen.runtime.backends.base import (
    JSON,
    AddOptions,
    Backend,
    Cancelled,
    Completed,
    Delivery,
    Discarded,
    Failed,
    Outcome,
    Retry,
)

# messaging.system: OpenTelemetry's well-known value where there is one, else the backend.
SYSTEMS = {"sqs": "aws_sqs"}

_tracer = trace.get_tracer("qgen")


def sdk_configured() -> bool:
    """Whether the application installed a tracer provider (an SDK): without one every span
    is a no-op, and a worker skips making them (about 10 us a job on this machine)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def system_of(backend: str) -> str:
    return SYSTEMS.get(backend, backend)


def _attributes(system: str, queue: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": system_of(system),
        "messaging.destination.name": queue,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,  # required (not the deprecated messaging.operation)
    }


def _carrier() -> dict[str, str] | None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier or None


def _with_meta(items: Sequence[tuple[JSON, AddOptions]], meta: dict[str, str] | None) -> Any:
    """``items`` with ``meta`` in their options (the items of one add_many share options)."""
    if meta is None:
        return items
    made: dict[int, AddOptions] = {}
    out = []
    for data, options in items:
        new = made.get(id(options))
        if new is None:
            new = made[id(options)] = replace(options, meta=meta)
        out.append((data, new))
    return out


def _upstream() -> dict[str, str] | None:
    """Without an SDK qgen makes no span, but a context the API alone propagates (an upstream
    service's trace, extracted by a web framework) still goes with the job."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    return _carrier()


class _Producer:
    async def enqueue(
        self, backend: Backend, system: str, queue: str, data: JSON, options: AddOptions
    ) -> str:
        if not sdk_configured():
            meta = _upstream()
            return await backend.enqueue(
                queue, data, replace(options, meta=meta) if meta else options
            )
        with _tracer.start_as_current_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=_attributes(system, queue, "send")
        ) as span:
            meta = _carrier()
            if meta is not None:
                options = replace(options, meta=meta)
            job_id = await backend.enqueue(queue, data, options)
            span.set_attribute("messaging.message.id", job_id)
            return job_id

    async def enqueue_many(
        self,
        backend: Backend,
        system: str,
        queue: str,
        items: Sequence[tuple[JSON, AddOptions]],
    ) -> list[str]:
        if not sdk_configured():
            return await backend.enqueue_many(queue, _with_meta(items, _upstream()))
        attributes = _attributes(system, queue, "send")
        attributes["messaging.batch.message_count"] = len(items)
        with _tracer.start_as_current_span(
            f"send {queue}", kind=SpanKind.PRODUCER, attributes=attributes
        ):
            return await backend.enqueue_many(queue, _with_meta(items, _carrier()))


PRODUCER = _Producer()


class Attempts:
    """Starts the CONSUMER span of each attempt of a worker's jobs. What does not change from
    job to job is made once: the per-queue names and attributes, and the parent context of a
    carrier already seen (the jobs of one ``add_many`` share their producer's context, and a
    retried job brings its own back), since extracting one costs more than a non-sampled span.

    A job whose producer was not sampled (the carried context says so) gets no span of its own
    unless ``every``: it runs inside the producer's context, which is what the SDK's default
    ``ParentBased`` sampler would decide anyway, for a sixth of the price of asking it (a
    consumer span kept under a dropped producer would be a fragment of a trace with no root).
    ``QGEN_TRACING=all`` sets ``every``, for samplers that decide on their own."""

    PARENTS = 1024  # carriers remembered; the cache is emptied when full

    def __init__(self, system: str, every: bool = False) -> None:
        self.system = system
        self.every = every
        self._queues: dict[str, tuple[str, dict[str, Any]]] = {}
        # carrier -> (its context, whether its producer was sampled out)
        self._parents: dict[tuple[tuple[str, str], ...], tuple[Context, bool]] = {}

    def parent(self, meta: Mapping[str, str]) -> tuple[Context, bool]:
        """The context ``meta`` carries (the global propagator's extract), remembered, and
        whether it says its trace is not sampled."""
        key = tuple(meta.items())
        known = self._parents.get(key)
        if known is None:
            if len(self._parents) >= self.PARENTS:
                self._parents.clear()
            ctx = propagate.extract(meta)
            carried = trace.get_current_span(ctx).get_span_context()
            known = self._parents[key] = (ctx, carried.is_valid and not carried.trace_flags.sampled)
        return known

    def start(self, delivery: Delivery) -> tuple[Span | None, object]:
        """The attempt's span (None: its producer was not sampled), child of the context the
        job carries (if any), made current; returns it and the token :meth:`stop` needs."""
        parent: Context | None = None
        if delivery.meta:
            parent, dropped = self.parent(delivery.meta)
            if dropped and not self.every:
                return None, context.attach(parent)
        known = self._queues.get(delivery.queue)
        if known is None:
            q = delivery.queue
            known = self._queues[q] = (f"process {q}", _attributes(self.system, q, "process"))
        name, attributes = known
        attributes = attributes.copy()
        attributes["messaging.message.id"] = delivery.job_id
        attributes["qgen.attempt"] = delivery.attempt
        span = _tracer.start_span(name, parent, SpanKind.CONSUMER, attributes)
        return span, context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def stop(
        span: Span | None, token: object, outcome: Outcome | None, error: BaseException | None
    ) -> None:
        context.detach(token)  # type: ignore[arg-type]
        if span is None:
            return
        if span.is_recording():
            end_attempt(span, outcome, error)
        else:  # the sampler dropped it: nothing to record
            span.end()


def end_attempt(span: Span, outcome: Outcome | None, error: BaseException | None = None) -> None:
    """Record the attempt's outcome on its span and end it."""
    if outcome is None:  # the handler raised (a shutdown gives the job back)
        span.set_attribute("qgen.outcome", "interrupted")
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
        span.end()
        return
    name = outcome_name(outcome)
    span.set_attribute("qgen.outcome", name)
    if isinstance(outcome, Retry | Failed):
        err = outcome.error
        span.set_attribute("error.type", err.type)
        span.add_event(
            "exception",
            {"exception.type": err.type, "exception.message": err.message[:4096]},
        )
        span.set_status(StatusCode.ERROR, f"{err.type}: {err.message}"[:512])
        if isinstance(outcome, Retry):
            span.set_attribute("qgen.retry_delay_s", outcome.delay)
    elif isinstance(outcome, Discarded | Cancelled):
        span.set_attribute("qgen.reason", outcome.reason[:512])
    span.end()


def outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Completed):
        return "completed"
    if isinstance(outcome, Retry):
        return "retried"
    if isinstance(outcome, Failed):
        return "failed"
    if isinstance(outcome, Discarded):
        return "discarded"
    return "cancelled"


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, if it has a valid context."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def context_of(meta: Mapping[str, str] | None) -> tuple[str, str] | None:
    """(trace id, parent span id) carried by a job's metadata, if any (tests and docs)."""
    if not meta:
        return None
    ctx = trace.get_current_span(propagate.extract(meta)).get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")

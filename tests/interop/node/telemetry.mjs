// A minimal implementation of Node BullMQ's Telemetry interface (tracer + context manager) for
// the trace-context interop tests: spans are recorded in memory, and the propagation metadata
// is bullmq-otel's format, the JSON text of a W3C carrier ({"traceparent": ...}).
import { randomBytes } from 'node:crypto';

const hex = (n) => randomBytes(n).toString('hex');

export function makeTelemetry() {
  const record = { spans: [], received: [] };
  let active = {};
  const contextManager = {
    active: () => active,
    with: async (ctx, fn) => {
      const previous = active;
      active = ctx;
      try {
        return await fn();
      } finally {
        active = previous;
      }
    },
    getMetadata: (ctx) =>
      ctx && ctx.traceId ? JSON.stringify({ traceparent: `00-${ctx.traceId}-${ctx.spanId}-01` }) : '',
    fromMetadata: (ctx, metadata) => {
      record.received.push(metadata);
      const [, traceId, spanId] = JSON.parse(metadata).traceparent.split('-');
      return { traceId, spanId };
    },
  };
  const tracer = {
    startSpan: (name, options, parent) => {
      const ctx = parent && parent.traceId ? parent : active;
      const span = {
        name,
        kind: options && options.kind,
        traceId: (ctx && ctx.traceId) || hex(16),
        spanId: hex(8),
        parentSpanId: (ctx && ctx.spanId) || null,
      };
      return {
        setSpanOnContext: () => ({ traceId: span.traceId, spanId: span.spanId }),
        setAttribute: () => {},
        setAttributes: () => {},
        addEvent: () => {},
        recordException: () => {},
        end: () => record.spans.push(span),
      };
    },
  };
  return { telemetry: { tracer, contextManager }, record };
}

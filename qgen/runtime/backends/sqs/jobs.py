"""What a qgen job looks like as an SQS message, both ways.

The body is the job's JSON data itself, nothing wrapped around it, so a message sent by any
other producer (a plain ``send_message``, the AWS console) is a job like any other. qgen's own
facts travel in message attributes, each only when it differs from the default:

- ``qgen.job_id``: the ``job_id`` given to ``add`` (also the FIFO deduplication id); without it
  the job id is the SQS MessageId.
- ``qgen.attempts`` / ``qgen.backoff``: per-job overrides of the queue's config.
- ``qgen.source`` / ``qgen.error``: on dead-letter copies, the queue and the final error.
- Any other attribute is the job's metadata (``AddOptions.meta``, the trace context), kept on
  dead-letter copies and redriven messages.

The attempt number is SQS's ApproximateReceiveCount: every receive is an attempt.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qgen.runtime.backends.base import AddOptions, Delivery, ErrorInfo, Failed, Handler, Outcome
from qgen.runtime.backends.lanes import Job
from qgen.runtime.backends.sqs.url import SQS_MAX_DELAY_S, SQS_MAX_VISIBILITY_S, is_fifo
from qgen.runtime.errors import PayloadTooLarge, UnsupportedByBackend
from qgen.runtime.interaction import Progress
from qgen.runtime.names import validate_job_id
from qgen.runtime.settings import QueueSettings

A_JOB_ID = "qgen.job_id"
A_ATTEMPTS = "qgen.attempts"
A_BACKOFF = "qgen.backoff"
A_SOURCE = "qgen.source"
A_ERROR = "qgen.error"
# Job metadata (the trace context: traceparent, tracestate) travels as message attributes of
# its own names; names qgen does not own and SQS accepts.
_META_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
_RESERVED = ("qgen.", "AWS.", "Amazon.", "aws.", "amazon.")
_MAX_ATTRIBUTES = 10  # SQS refuses a message with more
_TRACE_FIELDS = ("traceparent", "tracestate", "baggage")  # kept first when room runs out
DEFAULT_GROUP = "default"
_ERROR_CHARS = 4000  # keep dead-letter copies far below the size limit
# SQS refuses a visibility that ends more than 12 h after the receive. Receive times are taken
# before the ReceiveMessage call (earlier than SQS's own), and this margin covers the time a
# visibility change spends batched and retried before it reaches SQS.
VISIBILITY_MARGIN_S = 60
# Lambda hands over records received earlier, at most a batching window (5 min) plus a run
# (15 min) before the function acts on them: count from that far back.
LAMBDA_RECEIVED_AGO_S = 20 * 60

# Characters SQS accepts in a body; anything else (lone surrogates, U+FFFE) is sent \u-escaped.
_SQS_BAD_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class DelayTooLong(UnsupportedByBackend, ValueError):
    """A delay SQS cannot hold (DelaySeconds is at most 900 s)."""


def encode_body(data: Any) -> str:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if _SQS_BAD_CHARS.search(body):
        body = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return body


def message_size(body: str, attributes: Mapping[str, Mapping[str, str]]) -> int:
    """Size as SQS counts it against the limit: UTF-8 bytes of the body and of each attribute's
    name, type and value."""
    size = len(body.encode("utf-8"))
    for name, attr in attributes.items():
        size += len(name.encode()) + len(attr["DataType"].encode())
        size += len(attr.get("StringValue", "").encode("utf-8"))
    return size


def _attr(value: str, data_type: str = "String") -> dict[str, str]:
    return {"DataType": data_type, "StringValue": value}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for SendMessage / SendMessageBatch (QueueUrl and Id added there)."""

    job_id: str | None  # None: the MessageId SQS returns is the job id
    params: dict[str, Any]


def encode(queue: str, data: Any, options: AddOptions, *, max_bytes: int) -> Outgoing:
    """Build the send parameters of one job; raises PayloadTooLarge or DelayTooLong before
    anything is sent."""
    body = encode_body(data)
    attributes: dict[str, dict[str, str]] = {}
    if options.job_id is not None:
        attributes[A_JOB_ID] = _attr(validate_job_id(options.job_id))
    if options.attempts is not None:
        attributes[A_ATTEMPTS] = _attr(str(int(options.attempts)), "Number")
    if options.backoff is not None:
        attributes[A_BACKOFF] = _attr(json.dumps(dict(options.backoff), sort_keys=True))
    attributes.update(_meta_attributes(options.meta))  # as OTel's botocore instrumentation does
    size = message_size(body, attributes)
    if size > max_bytes:
        raise PayloadTooLarge(queue, size, max_bytes)
    params: dict[str, Any] = {"MessageBody": body}
    if attributes:
        params["MessageAttributes"] = attributes
    delay = options.delay or 0.0
    if delay > SQS_MAX_DELAY_S:
        raise DelayTooLong(
            "sqs",
            f"a delay of {delay:g} s: SQS holds a message back at most {SQS_MAX_DELAY_S} s "
            "(DelaySeconds); schedule later jobs elsewhere or re-add them when due",
        )
    if is_fifo(queue):
        if delay > 0:
            raise UnsupportedByBackend(
                "sqs",
                "per-message delays on FIFO queues (SQS only allows a queue-wide DelaySeconds)",
            )
        group = options.extra.get("group", DEFAULT_GROUP)
        if not isinstance(group, str) or not 1 <= len(group) <= 128:
            raise ValueError(f"group must be a string of 1 to 128 characters, not {group!r}")
        params["MessageGroupId"] = group
        params["MessageDeduplicationId"] = options.job_id or uuid.uuid4().hex
    elif delay > 0:
        params["DelaySeconds"] = math.ceil(delay)  # whole seconds; never earlier than asked
    return Outgoing(options.job_id, params)


@dataclass(frozen=True, slots=True)
class Received:
    """One received message, from ReceiveMessage or from a Lambda SQS event record."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: Mapping[str, str]  # qgen message attributes, string values
    group: str | None = None
    # time.monotonic() at (or before) the receive, for the 12 h cap
    received_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_boto(cls, msg: Mapping[str, Any], received_at: float | None = None) -> Received:
        """``received_at``: monotonic time the ReceiveMessage call started (default now)."""
        attrs = {
            k: str(v.get("StringValue", ""))
            for k, v in (msg.get("MessageAttributes") or {}).items()
        }
        system = msg.get("Attributes") or {}
        return cls(
            message_id=str(msg["MessageId"]),
            receipt_handle=str(msg["ReceiptHandle"]),
            body=str(msg.get("Body", "")),
            receive_count=_int(system.get("ApproximateReceiveCount"), 1),
            attributes=attrs,
            group=system.get("MessageGroupId"),
            received_at=time.monotonic() if received_at is None else received_at,
        )

    @classmethod
    def from_lambda(cls, record: Mapping[str, Any]) -> Received:
        attrs = {
            k: str(v.get("stringValue", ""))
            for k, v in (record.get("messageAttributes") or {}).items()
        }
        system = record.get("attributes") or {}
        return cls(
            message_id=str(record["messageId"]),
            receipt_handle=str(record["receiptHandle"]),
            body=str(record.get("body", "")),
            receive_count=_int(system.get("ApproximateReceiveCount"), 1),
            attributes=attrs,
            group=system.get("MessageGroupId"),
            received_at=time.monotonic() - LAMBDA_RECEIVED_AGO_S,
        )

    def visibility_left(self, now: float | None = None) -> int:
        """Whole seconds of visibility SQS still allows from now: 12 h after the receive, less
        :data:`VISIBILITY_MARGIN_S`; 0 once that is used up."""
        held = (time.monotonic() if now is None else now) - self.received_at
        return max(0, SQS_MAX_VISIBILITY_S - VISIBILITY_MARGIN_S - math.ceil(held))

    @property
    def job_id(self) -> str:
        return self.attributes.get(A_JOB_ID) or self.message_id

    def max_attempts(self, default: int) -> int:
        own = _int(self.attributes.get(A_ATTEMPTS), 0)
        return own if own >= 1 else default

    def backoff(self) -> Mapping[str, Any] | None:
        raw = self.attributes.get(A_BACKOFF)
        if not raw:
            return None
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None

    def meta(self) -> dict[str, str] | None:
        """The job's metadata: every attribute that is not qgen's own (the trace context)."""
        meta = {k: v for k, v in self.attributes.items() if not k.startswith("qgen.")}
        return meta or None

    def data(self) -> tuple[Any, ErrorInfo | None]:
        """The decoded body, or an error when it is not JSON (such a job fails at once)."""
        try:
            return json.loads(self.body), None
        except (ValueError, RecursionError) as exc:  # nested too deep for Python's parser
            return None, ErrorInfo("InvalidMessageBody", f"the message body is not JSON: {exc}")


def dead_letter_params(msg: Received, source: str, target: str, error: ErrorInfo) -> dict[str, Any]:
    """SendMessage parameters of the dead-letter copy of ``msg`` (QueueUrl added by the caller).
    The copy keeps the body, the job id and the job's metadata (its trace context, so a
    redrive continues the trace), as many of them as SQS's attribute limit leaves room for,
    trace fields first; the target queue's own config governs its tries."""
    attributes = {A_JOB_ID: _attr(msg.job_id), A_SOURCE: _attr(source)}
    text = json.dumps({"type": error.type, "message": error.message}, ensure_ascii=False)
    attributes[A_ERROR] = _attr(text[:_ERROR_CHARS])
    meta = _meta_attributes(msg.meta())
    room = _MAX_ATTRIBUTES - len(attributes)
    for key in sorted(meta, key=lambda k: k not in _TRACE_FIELDS)[:room]:  # stable: trace first
        attributes[key] = meta[key]
    params: dict[str, Any] = {"MessageBody": msg.body, "MessageAttributes": attributes}
    if is_fifo(target):
        params["MessageGroupId"] = msg.group or DEFAULT_GROUP
        params["MessageDeduplicationId"] = f"dl-{msg.message_id}"
    return params


def _meta_attributes(meta: Mapping[str, str] | None) -> dict[str, dict[str, str]]:
    """The message attributes of a job's metadata (the trace context): names qgen does not own
    and SQS accepts, non-empty string values."""
    return {
        key: _attr(value)
        for key, value in (meta or {}).items()
        if _META_NAME.fullmatch(key) and not key.startswith(_RESERVED) and value
    }


def retry_visibility(msg: Received, delay: float, now: float | None = None) -> int:
    """ChangeMessageVisibility timeout for a retry of ``msg`` in ``delay`` seconds: whole
    seconds, rounded up, capped so the message's visibility ends within the 12 h SQS allows
    after its receive (SQS refuses the whole change otherwise). A longer backoff runs early."""
    return max(0, min(msg.visibility_left(now), math.ceil(delay)))


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def _no_progress(value: Progress) -> None:
    """SQS stores nothing about a message in flight; progress is dropped (capabilities.py)."""


class SqsJob(Job):
    """A received message. ``verdict``: its outcome when it cannot run (a body that is not
    JSON, more receives than attempts); ``rest``: on FIFO queues, the messages of the same
    group from the same receive, run after it in the same slot; ``deadline``: monotonic time
    its visibility runs out (conservative), for heartbeats."""

    __slots__ = ("deadline", "msg", "rest", "verdict")

    def __init__(self, msg: Received, settings: QueueSettings, deadline: float = 0.0) -> None:
        self.msg, self.deadline = msg, deadline
        self.suspect = False
        self.rest: list[SqsJob] = []
        max_attempts = msg.max_attempts(settings.attempts)
        data, error = msg.data()
        self.delivery = Delivery(
            queue=settings.name,
            job_id=msg.job_id,
            data=data,
            attempt=msg.receive_count,
            max_attempts=max_attempts,
            backoff=msg.backoff(),
            report_progress=_no_progress,
            meta=msg.meta(),
        )
        self.verdict: Outcome | None = None
        if error is not None:
            self.verdict = Failed(error, settings.dead_letter)
        elif msg.receive_count > max_attempts:
            # its earlier receives ended in dead workers; only without a redrive policy, which
            # would have moved it
            text = f"received {msg.receive_count} times, more than its {max_attempts} attempts"
            self.verdict = Failed(ErrorInfo("AttemptsExhausted", text), settings.dead_letter)


async def job_outcome(job: SqsJob, handle: Handler) -> Outcome:
    """Run one received message through ``handle`` (the runner), or fail it without running."""
    if job.verdict is not None:
        return job.verdict
    return await handle(job.delivery)


def units(jobs: list[SqsJob], *, fifo: bool) -> list[SqsJob]:
    """What runs in one slot: each message alone, or on FIFO queues each message group's
    messages of this receive, in the order SQS gave them (the first, with the others in
    ``rest``)."""
    if not fifo:
        return jobs
    groups: dict[str | None, SqsJob] = {}
    for job in jobs:
        head = groups.setdefault(job.msg.group, job)
        if head is not job:
            head.rest.append(job)
    return list(groups.values())

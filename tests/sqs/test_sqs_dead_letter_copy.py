"""The SQS dead-letter copy keeps the job's metadata (the trace context, issue 17) within SQS's
limit of 10 message attributes, trace fields first. (The round trip through a redrive on every
backend: tests/contract/test_contract_ops_act.py.)"""

from __future__ import annotations

from qgen.runtime.backends.base import ErrorInfo
from qgen.runtime.backends.sqs.jobs import A_ERROR, A_JOB_ID, A_SOURCE, Received, dead_letter_params

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _received(attributes: dict[str, str]) -> Received:
    return Received("m-1", "r-1", '{"n":1}', 3, attributes)


def test_the_copy_keeps_the_trace_context_and_drops_per_job_overrides() -> None:
    msg = _received(
        {A_JOB_ID: "j1", "qgen.attempts": "5", "traceparent": TRACEPARENT, "tracestate": "a=1"}
    )
    attrs = dead_letter_params(msg, "orders", "orders-dead", ErrorInfo("Boom", "no"))[
        "MessageAttributes"
    ]
    assert set(attrs) == {A_JOB_ID, A_SOURCE, A_ERROR, "traceparent", "tracestate"}
    assert attrs["traceparent"] == {"DataType": "String", "StringValue": TRACEPARENT}
    assert attrs[A_JOB_ID]["StringValue"] == "j1"


def test_the_copy_stays_within_ten_attributes_trace_fields_first() -> None:
    own = {f"app{i}": f"v{i}" for i in range(8)}  # another producer's attributes, listed first
    msg = _received({**own, "empty": "", "tracestate": "a=1", "traceparent": TRACEPARENT})
    attrs = dead_letter_params(msg, "orders", "orders-dead", ErrorInfo("Boom", "no"))[
        "MessageAttributes"
    ]
    assert len(attrs) == 10  # SQS refuses more: the copy would never be sent
    assert {"traceparent", "tracestate", A_JOB_ID, A_SOURCE, A_ERROR} <= set(attrs)
    assert [k for k in attrs if k.startswith("app")] == [f"app{i}" for i in range(5)]
    assert "empty" not in attrs  # a binary attribute reads as "": not carried

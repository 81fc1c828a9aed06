"""One trace from the request that adds a job to the worker process that runs it, on every
backend: the client's PRODUCER span (in-memory exporter) is the parent of each attempt's
CONSUMER span (exported by the real worker process); a retried job's attempts are sibling
spans of the same trace; the worker's JSON log lines carry the ids."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from obs_app.generated.client import AsyncQueueClient, QueueClient
from obs_harness import Case, ClientTracing, worker
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from waiting import by_attr, until

MESSAGE_ID = "messaging.message.id"


def _system(case: Case) -> str:
    return "aws_sqs" if case.name == "sqs" else case.name


async def test_producer_span_is_the_parent_of_every_attempt(
    backend: Case, tmp_path: Path, client_tracing: ClientTracing
) -> None:
    client = AsyncQueueClient.from_url(backend.url)
    try:
        with client_tracing.tracer.start_as_current_span("request") as request:
            ok = await client.obs.add({"mode": "ok", "tag": "a"})
            flaky = await client.obs.add({"mode": "flaky", "tag": "b"})
            many = await client.obs.add_many([{"mode": "ok", "tag": "c"}, {"mode": "ok"}])
        request_id = format(request.get_span_context().span_id, "016x")
        with worker(backend, tmp_path, "--log-format", "json") as w:
            consumed = await until(
                lambda: [s for s in w.spans() if s["kind"] == "CONSUMER"],
                lambda got: len(got) >= 6,  # ok 1, flaky 3, many 2
                what="six attempts' spans",
                alive=w.check_alive,
            )
    finally:
        await client.close()
    produced = [s for s in client_tracing.spans() if s["kind"] == "PRODUCER"]
    assert len(produced) == 3  # one per add, one for the add_many batch
    for span in produced:
        assert span["parent_span_id"] == request_id
        assert span["name"] == "send obs"
        attrs = span["attributes"]
        assert attrs["messaging.system"] == _system(backend)
        assert attrs["messaging.destination.name"] == "obs"
        assert attrs["messaging.operation.type"] == attrs["messaging.operation.name"] == "send"
        assert "messaging.operation" not in attrs  # deprecated
    trace_id = format(request.get_span_context().trace_id, "032x")
    assert {s["trace_id"] for s in produced} == {trace_id}
    [ok_send] = by_attr(produced, MESSAGE_ID, ok.id)
    [flaky_send] = by_attr(produced, MESSAGE_ID, flaky.id)
    [batch_send] = [s for s in produced if "messaging.batch.message_count" in s["attributes"]]
    assert batch_send["attributes"]["messaging.batch.message_count"] == 2

    assert len(consumed) == 6
    [ok_run] = by_attr(consumed, MESSAGE_ID, ok.id)
    _check_consumer(ok_run, ok_send, backend, ok.id, 1, "completed")

    attempts = sorted(by_attr(consumed, MESSAGE_ID, flaky.id), key=_attempt)
    assert [s["attributes"]["qgen.attempt"] for s in attempts] == [1, 2, 3]
    assert len({s["span_id"] for s in attempts}) == 3  # separate spans, one trace, one parent
    for span, outcome in zip(attempts, ("retried", "retried", "completed"), strict=True):
        _check_consumer(span, flaky_send, backend, flaky.id, _attempt(span), outcome)
    for span in attempts[:2]:
        assert span["attributes"]["error.type"] == "FlakyError"
        assert span["status"] == "ERROR"
        assert "exception" in span["events"]
    assert "error.type" not in attempts[2]["attributes"]

    for handle in many:
        [run] = by_attr(consumed, MESSAGE_ID, handle.id)
        _check_consumer(run, batch_send, backend, handle.id, 1, "completed")

    _check_json_logs(w.log_lines(), ok.id, ok_run, attempts)


def _attempt(span: dict[str, Any]) -> int:
    value: int = span["attributes"]["qgen.attempt"]
    return value


def _check_consumer(
    span: dict[str, Any],
    parent: dict[str, Any],
    case: Case,
    job_id: str,
    attempt: int,
    outcome: str,
) -> None:
    assert span["name"] == "process obs"
    assert span["trace_id"] == parent["trace_id"]
    assert span["parent_span_id"] == parent["span_id"]
    attrs = span["attributes"]
    assert attrs["messaging.system"] == _system(case)
    assert attrs["messaging.destination.name"] == "obs"
    assert attrs["messaging.operation.type"] == attrs["messaging.operation.name"] == "process"
    assert "messaging.operation" not in attrs  # deprecated
    assert attrs[MESSAGE_ID] == job_id
    assert attrs["qgen.attempt"] == attempt
    assert attrs["qgen.outcome"] == outcome


def _check_json_logs(
    lines: list[str], ok_id: str, ok_run: dict[str, Any], flaky_runs: list[dict[str, Any]]
) -> None:
    records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert records
    for r in records:
        assert {"time", "level", "logger", "message", "queue", "job_id", "attempt"} <= set(r)
        assert {"trace_id", "span_id"} <= set(r)
    [user] = [r for r in records if r["message"] == "user code runs ok (tag a)"]
    assert user["logger"] == "obs_app.user"
    assert (user["queue"], user["job_id"], user["attempt"]) == ("obs", ok_id, 1)
    assert (user["trace_id"], user["span_id"]) == (ok_run["trace_id"], ok_run["span_id"])
    flaky_logs = [r for r in records if r["message"] == "user code runs flaky (tag b)"]
    assert sorted(r["attempt"] for r in flaky_logs) == [1, 2, 3]
    for r in flaky_logs:
        [run] = [s for s in flaky_runs if s["attributes"]["qgen.attempt"] == r["attempt"]]
        assert r["span_id"] == run["span_id"]
    # the runner's own warning about a failed attempt carries the ids too
    retry_logs = [r for r in records if r["logger"] == "qgen.runner" and r["level"] == "WARNING"]
    assert {r["attempt"] for r in retry_logs} == {1, 2}
    assert all(r["trace_id"] == flaky_runs[0]["trace_id"] for r in retry_logs)


async def test_without_an_sdk_nothing_is_stored_and_no_span_is_made(tmp_path: Path) -> None:
    """The API installed but no SDK anywhere: the job carries no context (its ``meta`` column
    stays empty), the worker makes no spans and its log lines have no ids; the job runs."""
    case = Case("sqlite", f"sqlite:///{tmp_path / 'jobs.db'}")
    client = AsyncQueueClient.from_url(case.url)
    try:
        handle = await client.obs.add({"mode": "ok", "tag": "plain"})
        with worker(case, tmp_path, "--log-format", "json", traced=False) as w:
            done = await handle.result(timeout=60)
            w.check_alive()
    finally:
        await client.close()
    assert done.attempt == 1
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        assert db.execute("SELECT meta FROM qgen_jobs").fetchall() == [(None,)]
    records = [json.loads(line) for line in w.log_lines() if line.strip()]
    [user] = [r for r in records if r["message"] == "user code runs ok (tag plain)"]
    assert (user["job_id"], user["attempt"], user["trace_id"]) == (handle.id, 1, None)
    assert not w.spans_file.exists()


def test_the_blocking_client_adds_in_the_callers_trace(
    tmp_path: Path, client_tracing: ClientTracing
) -> None:
    """``QueueClient`` (blocking) runs the add on its own loop in the caller's thread: the
    producer span is the caller's span's child, and the job stores that span's context."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    client = QueueClient.from_url(url)
    try:
        with client_tracing.tracer.start_as_current_span("request") as request:
            handle = client.obs.add({"mode": "ok"})
    finally:
        client.close()
    [send] = [s for s in client_tracing.spans() if s["kind"] == "PRODUCER"]
    assert send["parent_span_id"] == format(request.get_span_context().span_id, "016x")
    assert send["attributes"][MESSAGE_ID] == handle.id
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        [(meta,)] = db.execute("SELECT meta FROM qgen_jobs").fetchall()
    assert json.loads(meta)["traceparent"].startswith(f"00-{send['trace_id']}-{send['span_id']}-")


async def test_without_an_sdk_an_upstream_context_still_goes_with_the_job(
    tmp_path: Path,
) -> None:
    """No SDK, but a context the API alone carries (an upstream service's trace a web
    framework extracted): qgen makes no span and stores that context with the job."""
    upstream = SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    client = AsyncQueueClient.from_url(f"sqlite:///{tmp_path / 'jobs.db'}")
    try:
        with trace.use_span(NonRecordingSpan(upstream)):
            await client.obs.add({"mode": "ok"})
            await client.obs.add_many([{"mode": "ok"}, {"mode": "ok"}])
        await client.obs.add({"mode": "ok"})  # no context at all: nothing stored
    finally:
        await client.close()
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        metas = [m for (m,) in db.execute("SELECT meta FROM qgen_jobs ORDER BY seq")]
    expected = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    assert [json.loads(m)["traceparent"] for m in metas[:3]] == [expected] * 3
    assert metas[3] is None

"""Small parts of the telemetry on their own: the JSON log line outside and inside a job, the
histogram's cumulative buckets, job metadata that cannot be read, and an SQLite file of an
older schema getting the ``meta`` column in place."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from prometheus_client import REGISTRY

from qgen.runtime import logs, telemetry
from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import Completed, Delivery
from qgen.runtime.backends.sqlite import migrations, transport
from qgen.runtime.errors import UnsupportedByBackend
from qgen.runtime.telemetry import jsonlog, tracing
from qgen.runtime.telemetry.metrics import BUCKETS, Durations, Sampler


def _line(logger: logging.Logger, message: str) -> dict[str, object]:
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, (), None)
    parsed: dict[str, object] = json.loads(jsonlog.JsonFormatter().format(record))
    return parsed


def test_json_lines_outside_and_inside_a_job() -> None:
    jsonlog.install()
    user = logging.getLogger("tests.user")
    outside = _line(user, "starting")
    assert outside["queue"] is None and outside["job_id"] is None and outside["attempt"] is None
    assert outside["trace_id"] is None and outside["span_id"] is None
    assert outside["message"] == "starting" and outside["logger"] == "tests.user"
    token = jsonlog.bind_attempt(2)
    try:
        with logs.job_context("payments", "job-1"):
            inside = _line(user, "charging postgresql://u:secret@db/x")
    finally:
        jsonlog.unbind_attempt(token)
    assert (inside["queue"], inside["job_id"], inside["attempt"]) == ("payments", "job-1", 2)
    assert "secret" not in str(inside["message"])


def test_histogram_buckets_are_cumulative() -> None:
    d = Durations()
    for seconds in (0.001, 0.005, 0.2, 2.0, 5000.0):
        d.observe(seconds)
    buckets = dict(d.cumulative())
    assert buckets[repr(float(BUCKETS[0]))] == 2  # le 0.005 holds 0.001 and 0.005
    assert buckets["0.25"] == 3
    assert buckets["2.5"] == 4
    assert buckets["900.0"] == 4
    assert buckets["+Inf"] == 5
    assert d.count == 5 and abs(d.sum - 5002.206) < 1e-9


def test_metadata_that_cannot_be_read_is_no_metadata() -> None:
    good = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    assert jobmeta.decode(jobmeta.encode(good)) == good
    assert jobmeta.encode(None) is None and jobmeta.encode({}) is None
    for bad in ("", "not json", "[1, 2]", '{"a": 1}', "{}", "x" * 5000, None, 7):
        assert jobmeta.decode(bad) is None


def test_an_older_sqlite_file_gets_the_meta_column(tmp_path: Path) -> None:
    """A version 3 file (the operator API's) steps to version 4 in place: the ``meta`` column
    is added, version 3's steps are not run again, its jobs are kept."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(migrations.BASE)
    for stmt in migrations.MIGRATE_3:
        conn.execute(stmt)
    conn.execute(
        "INSERT INTO qgen_jobs (queue, id, state, data, max_attempts, start_after, created_at)"
        " VALUES ('q', 'a', 'waiting', '{}', 3, 0, 0)"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    db = transport.open_db(path, "full", 5000)
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(qgen_jobs)")}
        assert {"meta", "cancel_requested"} <= columns
        assert db.execute("SELECT id, meta FROM qgen_jobs").fetchall() == [("a", None)]
        assert db.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION
        assert migrations.SCHEMA_VERSION >= 4  # the version that brought ``meta``
    finally:
        db.close()


class _HalfOps:
    """A backend's two sampled reads: counts refused as a backend without the operator API
    refuses it, the oldest job's time given."""

    name = "sqlite"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def counts(self, queue: str) -> object:
        self.calls.append("counts")
        raise UnsupportedByBackend("sqlite", "job counts", "not here")

    async def oldest_waiting(self, queue: str) -> float:
        self.calls.append("oldest")
        return time.time() - 30


async def test_the_sampler_drops_a_read_the_backend_refuses() -> None:
    conn = _HalfOps()
    sampler = Sampler(conn, "sqlite", ["unit-q"], interval=0.5)  # type: ignore[arg-type]
    await sampler.sample("unit-q")
    await sampler.sample("unit-q")
    assert conn.calls == ["counts", "oldest", "oldest"]  # counts asked once, then dropped
    assert not sampler.counts_ok and sampler.oldest_ok
    age = REGISTRY.get_sample_value(
        "qgen_queue_oldest_waiting_age_seconds", {"backend": "sqlite", "queue": "unit-q"}
    )
    assert age is not None and 29 <= age <= 60
    waiting = REGISTRY.get_sample_value(
        "qgen_queue_waiting_jobs", {"backend": "sqlite", "queue": "unit-q"}
    )
    assert waiting is None
    assert sampler.gap == 0.5  # one queue: every interval
    many = Sampler(conn, "sqlite", [f"q{i}" for i in range(100)], interval=15.0)  # type: ignore[arg-type]
    assert many.gap == Sampler.MIN_GAP  # 100 queues in 15 s: capped at 5 reads a second


class _SeenMidSample:
    """Both reads given; the oldest-job read records the gauges a scrape would see between the
    two reads of one sample."""

    name = "sqlite"

    def __init__(self) -> None:
        self.seen: tuple[float | None, float | None] | None = None

    async def counts(self, queue: str) -> object:
        return SimpleNamespace(waiting=2)

    async def oldest_waiting(self, queue: str) -> float:
        labels = {"backend": "sqlite", "queue": queue}
        self.seen = (
            REGISTRY.get_sample_value("qgen_queue_waiting_jobs", labels),
            REGISTRY.get_sample_value("qgen_queue_oldest_waiting_age_seconds", labels),
        )
        return time.time() - 5


async def test_a_scrape_mid_sample_never_sees_a_new_depth_without_its_age() -> None:
    conn = _SeenMidSample()
    await Sampler(conn, "sqlite", ["mid-q"], interval=0.5).sample("mid-q")  # type: ignore[arg-type]
    assert conn.seen == (None, None)  # nothing set until both reads are in
    labels = {"backend": "sqlite", "queue": "mid-q"}
    assert REGISTRY.get_sample_value("qgen_queue_waiting_jobs", labels) == 2
    age = REGISTRY.get_sample_value("qgen_queue_oldest_waiting_age_seconds", labels)
    assert age is not None and 4 <= age <= 60


def _delivery(meta: dict[str, str] | None, job_id: str = "j1") -> Delivery:
    async def progress(_: object) -> None:
        return None

    return Delivery("q", job_id, {}, 1, 3, None, progress, meta=meta)


def _attempt(attempts: tracing.Attempts, delivery: Delivery) -> tuple[str, str] | None:
    """One attempt's span started and stopped; the ids user code saw inside it."""
    span, token = attempts.start(delivery)
    seen = tracing.current_ids()
    attempts.stop(span, token, Completed(None), None)
    return seen


def test_an_attempt_span_follows_the_carried_context_and_the_sampler(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The parent comes from the job's carrier (remembered per carrier, bounded); a span the
    sampler drops records nothing, yet the job still runs inside the producer's trace."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(ALWAYS_ON))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("qgen"))
    monkeypatch.setattr(tracing.Attempts, "PARENTS", 2)
    attempts = tracing.Attempts("redis")
    kept = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    dropped = {"traceparent": "00-" + "c" * 32 + "-" + "d" * 16 + "-00"}

    for n in range(3):  # the same carrier again: the same parent (a retry, an add_many batch)
        _attempt(attempts, _delivery(dict(kept), f"k{n}"))
    finished = exporter.get_finished_spans()
    assert len(finished) == 3
    for span in finished:
        assert span.parent is not None and span.parent.span_id == int("b" * 16, 16)
        assert span.context is not None and span.context.trace_id == int("a" * 32, 16)
        assert span.attributes is not None and span.attributes["qgen.outcome"] == "completed"
    assert {s.attributes["messaging.message.id"] for s in finished if s.attributes} == {
        "k0",
        "k1",
        "k2",
    }

    exporter.clear()
    seen = _attempt(attempts, _delivery(dropped))
    assert exporter.get_finished_spans() == ()  # the producer was not sampled: nor is this
    assert seen == ("c" * 32, "d" * 16)  # the job runs in the producer's context

    for n in range(5):  # more carriers than remembered: still right, the memory bounded
        tp = f"00-{n + 1:032x}-{n + 1:016x}-01"
        _attempt(attempts, _delivery({"traceparent": tp}))
    assert len(attempts._parents) <= 2
    assert [s.parent.span_id for s in exporter.get_finished_spans() if s.parent] == [
        1,
        2,
        3,
        4,
        5,
    ]
    provider.shutdown()


def test_an_unsampled_producer_gets_consumer_spans_only_when_every_attempt_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sampler that decides on its own (here: keep everything) is asked for an attempt under a
    producer that was not sampled only with ``QGEN_TRACING=all``; by default that attempt
    follows its producer and makes no span, as a parent-based sampler would."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("qgen"))
    dropped = {"traceparent": "00-" + "c" * 32 + "-" + "d" * 16 + "-00"}

    monkeypatch.setenv("QGEN_TRACING", "auto")
    _attempt(tracing.Attempts("sqs", every=telemetry.trace_every_attempt()), _delivery(dropped))
    assert exporter.get_finished_spans() == ()

    monkeypatch.setenv("QGEN_TRACING", "all")
    assert telemetry.tracing_wanted()
    seen = _attempt(
        tracing.Attempts("sqs", every=telemetry.trace_every_attempt()), _delivery(dropped)
    )
    (span,) = exporter.get_finished_spans()
    assert span.parent is not None and span.parent.span_id == int("d" * 16, 16)
    assert span.context is not None and seen == ("c" * 32, format(span.context.span_id, "016x"))
    provider.shutdown()


async def test_a_worker_with_telemetry_off_runs_the_handler_unwrapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No tracing, no metrics, no JSON log records to read the attempt: the handler is the
    runner's own (no wrapper per job); with JSON records on, the attempt is bound around it."""
    from qgen.runtime.telemetry.worker import WorkerTelemetry

    seen: list[object] = []

    async def handle(delivery: Delivery) -> Completed:
        seen.append(jsonlog._attempt.get())
        return Completed(None)

    monkeypatch.setattr(jsonlog, "_installed", False)
    assert WorkerTelemetry("sqlite", tracing=False).wrap(handle) is handle
    monkeypatch.setattr(jsonlog, "_installed", True)
    wrapped = WorkerTelemetry("sqlite", tracing=False).wrap(handle)
    assert wrapped is not handle
    await wrapped(_delivery(None))
    assert seen == [1] and jsonlog._attempt.get() is None

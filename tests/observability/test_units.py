"""Small parts of the telemetry on their own: the JSON log line outside and inside a job, the
histogram's cumulative buckets, job metadata that cannot be read, and an SQLite file of an
older schema getting the ``meta`` column in place."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path

from prometheus_client import REGISTRY

from qgen.runtime import logs
from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.sqlite import migrations, transport
from qgen.runtime.errors import UnsupportedByBackend
from qgen.runtime.telemetry import jsonlog
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
        assert db.execute("PRAGMA user_version").fetchone()[0] == migrations.SCHEMA_VERSION == 4
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

"""Adds, reads and the URL of the SQLite backend (no consumer)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.backends.sqlite.url import parse_url
from qgen.runtime.errors import ConfigError, JobNotFound, JobTimeout
from tests.unit.sqlite.sqlite_helpers import rows


def test_url_forms() -> None:
    assert parse_url("sqlite:///rel/jobs.db").path == Path("rel/jobs.db")
    u = parse_url("sqlite:////abs/jobs.db?synchronous=normal")
    assert (u.path, u.synchronous) == (Path("/abs/jobs.db"), "NORMAL")
    assert parse_url("sqlite:///j.db").synchronous == "FULL"  # durable by default
    for bad in (
        "sqlite://x.db",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///j.db?synchronous=off",
        "sqlite:///j.db?bogus=1",
        "sqlite:///j.db?busy_timeout=x",
    ):
        with pytest.raises(ConfigError):
            parse_url(bad)


async def test_pragmas_applied(tmp_path: Path) -> None:
    b = await SqliteBackend.connect(f"sqlite:///{tmp_path}/a/b/jobs.db?synchronous=normal", {})
    assert b.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert b.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    await b.close()
    b = await SqliteBackend.connect(f"sqlite:///{tmp_path}/a/b/jobs.db", {})
    assert b.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    await b.close()


async def test_add_and_get(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", {"x": [1, "é"]}, AddOptions())
    info = await backend.get("q", job_id)
    assert info is not None
    assert info.status is JobStatus.WAITING
    assert info.data == {"x": [1, "é"]}
    assert (info.attempts_made, info.max_attempts) == (0, 2)  # queue config attempts=2
    assert info.created_at is not None and abs(info.created_at - time.time()) < 5
    assert await backend.get("q", "nope") is None
    assert await backend.get("other", job_id) is None  # ids are per queue


async def test_job_id_is_idempotent(backend: SqliteBackend) -> None:
    a = await backend.enqueue("q", {"v": 1}, AddOptions(job_id="order-1", priority=5))
    b = await backend.enqueue("q", {"v": 2}, AddOptions(job_id="order-1", attempts=9))
    assert a == b == "order-1"
    many = await backend.enqueue_many(
        "q", [({"v": 3}, AddOptions(job_id="order-1")), ({"v": 4}, AddOptions(job_id="o2"))]
    )
    assert many == ["order-1", "o2"]
    assert rows(
        backend, "SELECT data, priority, max_attempts FROM qgen_jobs WHERE id='order-1'"
    ) == [('{"v":1}', 5, 2)]
    # The same id in another queue is another job.
    await backend.enqueue("dead", {"v": 5}, AddOptions(job_id="order-1"))
    assert len(rows(backend, "SELECT 1 FROM qgen_jobs WHERE id='order-1'")) == 2


async def test_bad_names_never_reach_sql(backend: SqliteBackend) -> None:
    with pytest.raises(ConfigError):
        await backend.enqueue("q'; DROP TABLE qgen_jobs; --", {}, AddOptions())
    with pytest.raises(ConfigError):
        await backend.enqueue("q", {}, AddOptions(job_id="a b"))
    assert rows(backend, "SELECT count(*) FROM qgen_jobs") == [(0,)]


async def test_delayed_status_and_options(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue(
        "q", 1, AddOptions(delay=0.3, attempts=7, backoff={"type": "fixed", "delay": 10})
    )
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.DELAYED and info.max_attempts == 7
    assert rows(backend, "SELECT backoff FROM qgen_jobs") == [('{"type":"fixed","delay":10}',)]
    await asyncio.sleep(0.35)
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.WAITING


async def test_wait_times_out_and_finds_nothing(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", 1, AddOptions())
    t = time.monotonic()
    with pytest.raises(JobTimeout):
        await backend.wait("q", job_id, 0.2)
    assert 0.15 < time.monotonic() - t < 10
    with pytest.raises(JobNotFound):
        await backend.wait("q", "missing", 1)


async def test_add_many_is_one_transaction(backend: SqliteBackend) -> None:
    ids = await backend.enqueue_many("q", [(i, AddOptions()) for i in range(500)])
    assert len(set(ids)) == 500
    assert rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='waiting'") == [(500,)]
    assert await backend.enqueue_many("q", []) == []


async def test_delayed_rows_are_kept_apart(backend: SqliteBackend) -> None:
    await backend.enqueue("q", 1, AddOptions(job_id="later", delay=60))
    await backend.enqueue("q", 2, AddOptions(job_id="now"))
    assert rows(backend, "SELECT id, state FROM qgen_jobs ORDER BY seq") == [
        ("later", "delayed"),
        ("now", "waiting"),
    ]


def test_fetch_walks_only_the_ready_index(backend: SqliteBackend) -> None:
    """The lease, the idle probe and the promotion of due jobs use partial indexes, so finished
    and delayed rows are never scanned."""
    from qgen.runtime.backends.sqlite import sql as db

    conn = backend.conn
    plans = {
        "lease": (db._LEASE, ("t", 0.0, "w", 0.0, "q", 10)),
        "poll": (db._POLL, ('["q", "r"]', 0.0, "base-", "base.")),
        "promote": (db._PROMOTE, ("q", 0.0)),
        "expired": (db._EXPIRED, ('["q", "r"]', 0.0)),
        "trim by count": (db._TRIM_COUNT, ("q", "completed", 1000, 100)),
        "trim by age": (db._TRIM_AGE, ("q", "completed", 0.0, 100)),
    }
    for name, (sql, params) in plans.items():
        detail = " ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "SCAN qgen_jobs" not in detail.replace("USING INDEX", ""), (name, detail)
        assert "USING" in detail, (name, detail)


def test_version_1_files_are_migrated(tmp_path: Path) -> None:
    import sqlite3

    from qgen.runtime.backends.sqlite import migrations
    from qgen.runtime.backends.sqlite.transport import open_db

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(migrations.BASE)  # a file as version 1 and 2 made it
    old.execute(  # made by version 2 workers of queues with retention
        "CREATE INDEX qgen_jobs_finished ON qgen_jobs (queue, state, finished_at)"
        " WHERE finished_at IS NOT NULL"
    )
    old.execute(
        "INSERT INTO qgen_jobs (queue, id, state, data, max_attempts, start_after, created_at)"
        " VALUES ('q', 'a', 'waiting', '1', 3, 1e12, 0), ('q', 'b', 'waiting', '1', 3, 0, 0)"
    )
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    open_db(path, "FULL", 1000).close()
    open_db(path, "FULL", 1000).close()  # a second open changes nothing
    check = sqlite3.connect(path)
    assert check.execute(
        "SELECT id, state, cancel_requested FROM qgen_jobs ORDER BY id"
    ).fetchall() == [
        ("a", "delayed", 0),
        ("b", "waiting", 0),
    ]
    assert check.execute("PRAGMA user_version").fetchone() == (migrations.SCHEMA_VERSION,)
    tables = {name for (name,) in check.execute("SELECT name FROM sqlite_master")}
    assert {"qgen_queues", "qgen_workers", "qgen_jobs_finished", "qgen_jobs_waiting"} <= tables
    (finished,) = check.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'qgen_jobs_finished'"
    ).fetchone()
    assert "finished_at, id)" in finished  # the wider index of version 3


async def test_new_files_use_small_pages(backend: SqliteBackend) -> None:
    assert rows(backend, "PRAGMA page_size") == [(2048,)]
    big = {"blob": "x" * 50_000}  # overflow pages
    job_id = await backend.enqueue("q", big, AddOptions())
    info = await backend.get("q", job_id)
    assert info is not None and info.data == big


def test_version_4_files_get_the_cancel_request_index(tmp_path: Path) -> None:
    """Version 5 indexes running jobs with a cancel request, which every worker's poll reads;
    a file of the previous version gets it in place, its jobs kept."""
    import sqlite3

    from qgen.runtime.backends.sqlite import migrations
    from qgen.runtime.backends.sqlite import sql as db
    from qgen.runtime.backends.sqlite.transport import open_db

    path = tmp_path / "v4.db"
    open_db(path, "FULL", 1000).close()
    old = sqlite3.connect(path)
    old.execute("DROP INDEX qgen_jobs_cancel_asked")
    old.execute(
        "INSERT INTO qgen_jobs (queue, id, state, data, max_attempts, start_after, created_at,"
        " lease, cancel_requested) VALUES ('q', 'a', 'active', '1', 3, 0, 0, 'base-1', 1),"
        " ('q', 'b', 'active', '1', 3, 0, 0, 'other-1', 1)"
    )
    old.execute("PRAGMA user_version = 4")
    old.commit()
    old.close()
    conn = open_db(path, "FULL", 1000)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (migrations.SCHEMA_VERSION,)
        assert db.poll(conn, '["q", "r"]', 0.0, "base") == [(0, 0, '["a"]'), (0, 0, None)]
    finally:
        conn.close()

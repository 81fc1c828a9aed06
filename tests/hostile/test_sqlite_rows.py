"""Issue 10 item 6 on SQLite: rows written by something else. A row whose data or backoff is
not JSON, is nested thousands of levels deep, or whose backoff is not an object, fails alone
with ``InvalidJobData`` (logged, its slot freed: a worker with room for two jobs runs every
healthy job after four such rows), and SIGINT still drains the worker process; a row with a
priority that is not a number never halts the queue; a row left ``active`` with no lease is
recovered like an expired lease and runs; a client reads a row nested too deep as text."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_harness import ROOT, WIRING, subprocess_env

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, JobStatus, Outcome
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.backends.sqlite.url import parse_url
from qgen.runtime.settings import resolve
from tests.support.sqlite import backend_url

DEEP = "[" * 5000 + "]" * 5000
BAD_ROWS = {
    "data-not-json": "UPDATE qgen_jobs SET data = 'not json' WHERE id = ?",
    "data-too-deep": f"UPDATE qgen_jobs SET data = '{DEEP}' WHERE id = ?",
    "backoff-not-json": "UPDATE qgen_jobs SET backoff = '{oops' WHERE id = ?",
    "backoff-too-deep": f"UPDATE qgen_jobs SET backoff = '{DEEP}' WHERE id = ?",
    "backoff-a-list": "UPDATE qgen_jobs SET backoff = '[1, 2]' WHERE id = ?",
}


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as u:
        yield u


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(parse_url(url).path, isolation_level=None)
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def _states(url: str) -> dict[str, tuple[str, str | None]]:
    rows = _sql(url, "SELECT id, state, json_extract(error, '$.type') FROM qgen_jobs")
    return {job_id: (state, error) for job_id, state, error in rows}


async def _run_until(backend: SqliteBackend, ran: list[str], done: Any, **config: Any) -> None:
    async def handle(d: Delivery) -> Outcome:
        ran.append(d.job_id)
        return Completed(None)

    settings = resolve("q", {"poll_interval": 20, **config}, "sqlite")
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + 30  # a hung test's guard, not a speed requirement
        while not done():
            assert not task.done(), "the consumer stopped"
            assert time.monotonic() < deadline, f"timed out; ran {ran}"
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)  # the drain ends: no slot was leaked


async def test_unreadable_rows_fail_alone_and_free_their_slots(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await SqliteBackend.connect(url, {"q": {}})
    try:
        good = [f"good-{i}" for i in range(6)]
        ids = list(BAD_ROWS) + good
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        for job_id, stmt in BAD_ROWS.items():
            _sql(url, stmt, job_id)
        ran: list[str] = []

        def finished() -> bool:
            return all(state in ("completed", "failed") for state, _ in _states(url).values())

        with caplog.at_level(logging.ERROR, logger="qgen.sqlite"):
            # room for two jobs at once: a leaked slot per bad row would stop the queue
            await _run_until(backend, ran, finished, batch_size=1, prefetch=1)
        assert sorted(ran) == good
        states = _states(url)
        for bad in BAD_ROWS:
            assert states[bad] == ("failed", "InvalidJobData"), bad
            info = await backend.get("q", bad)
            assert info is not None and info.error is not None
            assert "not JSON" in info.error.message or "nested too deep" in info.error.message
        for ok in good:
            assert states[ok] == ("completed", None)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        for bad in BAD_ROWS:
            assert bad in logged
    finally:
        await backend.close()


def test_sigint_drains_a_worker_that_met_unreadable_rows(url: str, tmp_path: Path) -> None:
    async def add() -> None:
        backend = await SqliteBackend.connect(url, {"h-record": {}})
        try:
            items = [({"key": f"k{i}"}, AddOptions(job_id=f"j{i}")) for i in range(4)]
            await backend.enqueue_many("h-record", items)
        finally:
            await backend.close()

    asyncio.run(add())
    _sql(url, "UPDATE qgen_jobs SET data = 'not json' WHERE id = 'j1'")
    _sql(url, f"UPDATE qgen_jobs SET backoff = '{DEEP}' WHERE id = 'j2'")
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", WIRING,
             "--queues", "h-record", "--grace", "5"],
            cwd=ROOT, env=subprocess_env(), stdout=sink, stderr=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60  # a hung test's guard
            while not all(s in ("completed", "failed") for s, _ in _states(url).values()):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, (_states(url), log.read_text())
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert code == 0, text
    assert "InvalidJobData" in text or "not JSON" in text, text
    states = _states(url)
    assert states["j1"] == ("failed", "InvalidJobData") and states["j2"][0] == "failed"
    assert states["j0"] == ("completed", None) and states["j3"] == ("completed", None)


async def test_a_priority_that_is_not_a_number_never_halts_the_queue(url: str) -> None:
    backend = await SqliteBackend.connect(url, {"q": {}})
    try:
        ids = [f"j{i}" for i in range(6)]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        _sql(url, "UPDATE qgen_jobs SET priority = 'high' WHERE id = 'j1'")
        _sql(url, "UPDATE qgen_jobs SET priority = x'00ff' WHERE id = 'j3'")
        _sql(url, "UPDATE qgen_jobs SET priority = 5 WHERE id = 'j4'")
        ran: list[str] = []

        def finished() -> bool:
            return all(state == "completed" for state, _ in _states(url).values())

        await _run_until(backend, ran, finished, batch_size=1, prefetch=1)
        assert sorted(ran) == ids
        info = await backend.get("q", "j1")
        assert info is not None and info.status is JobStatus.COMPLETED
    finally:
        await backend.close()


async def test_active_rows_with_no_lease_are_recovered(url: str) -> None:
    backend = await SqliteBackend.connect(url, {"q": {}})
    try:
        ids = ["orphan-0", "orphan-1", "fresh"]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        _sql(
            url,
            "UPDATE qgen_jobs SET state = 'active', lease = NULL, lease_until = NULL,"
            " worker = 'gone' WHERE id LIKE 'orphan-%'",
        )
        ran: list[str] = []

        def finished() -> bool:
            return all(state == "completed" for state, _ in _states(url).values())

        await _run_until(backend, ran, finished, max_stalled_count=1)
        assert sorted(ran) == sorted(ids)
        stalled = _sql(url, "SELECT id, stalled FROM qgen_jobs ORDER BY id")
        assert stalled == [("fresh", 0), ("orphan-0", 1), ("orphan-1", 1)]
    finally:
        await backend.close()


async def test_a_client_reads_a_row_nested_too_deep_as_text(url: str) -> None:
    backend = await SqliteBackend.connect(url, {"q": {}})
    try:
        await backend.enqueue("q", {"n": 1}, AddOptions(job_id="deep"))
        _sql(url, "UPDATE qgen_jobs SET data = ?1, progress = ?1", DEEP)
        info = await backend.get("q", "deep")
        assert info is not None and info.status is JobStatus.WAITING
        assert isinstance(info.data, str) and info.data.startswith("[[[")
        assert isinstance(info.progress, str) and info.progress.startswith("[[[")
        page, _ = await backend.list_jobs("q", JobStatus.WAITING, 10, None)
        (listed,) = page
        assert listed.data is None and listed.error is not None
        assert listed.error.type == "InvalidJobData"
    finally:
        await backend.close()

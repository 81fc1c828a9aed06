"""Issue 10 items 5 and 6 on PostgreSQL: rows written by something else. A job whose backoff
is nested thousands of levels deep (or is not an object) fails alone with ``InvalidJobData``
while the jobs leased in the same round run (the lease used to raise RecursionError while the
rows were read, so the whole batch stalled and was failed later without ever running); a
client reading such a row gets it as text, not a RecursionError; and a row left ``active`` with
no lease at all is recovered like an expired lease and runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, JobStatus, Outcome
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.settings import resolve
from tests.support.postgres import backend_url

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    pg = parse_url(url)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        cur = conn.execute(sql.SQL(query).format(s=sql.Identifier(pg.schema)), params)
        return cur.fetchall() if cur.description else []


async def _run_until(
    backend: PostgresBackend, ran: list[str], done: Any, timeout: float = 20, **config: Any
) -> None:
    async def handle(d: Delivery) -> Outcome:
        ran.append(d.job_id)
        return Completed(None)

    settings = resolve("q", {"batch_size": 10, "poll_interval": 50, **config}, "postgres")
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert not task.done(), "the consumer stopped"
            assert time.monotonic() < deadline, f"timed out; ran {ran}"
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)


def _states(url: str) -> dict[str, tuple[str, str | None]]:
    rows = _sql(url, "SELECT id, state::text, error->>'type' FROM {s}.job")
    return {job_id: (state, error) for job_id, state, error in rows}


async def test_a_backoff_nested_too_deep_fails_alone(pg_url: str) -> None:
    backend = await PostgresBackend.connect(pg_url, {"q": {}})
    try:
        ids = [f"j{i}" for i in range(6)]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        _sql(pg_url, "UPDATE {s}.job SET backoff = %s::jsonb WHERE id = 'j2'", DEEP)
        _sql(pg_url, "UPDATE {s}.job SET backoff = '[1, 2]'::jsonb WHERE id = 'j4'")
        ran: list[str] = []

        def finished() -> bool:
            return all(state in ("completed", "failed") for state, _ in _states(pg_url).values())

        await _run_until(backend, ran, finished)
        assert sorted(ran) == ["j0", "j1", "j3", "j5"]
        states = _states(pg_url)
        for bad in ("j2", "j4"):
            assert states[bad] == ("failed", "InvalidJobData")
        for good in ("j0", "j1", "j3", "j5"):
            assert states[good] == ("completed", None)
    finally:
        await backend.close()


async def test_a_client_reads_a_row_nested_too_deep_as_text(pg_url: str) -> None:
    backend = await PostgresBackend.connect(pg_url, {"q": {}})
    try:
        await backend.enqueue("q", {"n": 1}, AddOptions(job_id="deep"))
        _sql(pg_url, "UPDATE {s}.job SET data = %s::jsonb, progress = %s::jsonb", DEEP, DEEP)
        info = await backend.get("q", "deep")
        assert info is not None and info.status is JobStatus.WAITING
        assert isinstance(info.data, str) and info.data.startswith("[[[")
        assert isinstance(info.progress, str) and info.progress.startswith("[[[")
    finally:
        await backend.close()


async def test_active_rows_with_no_lease_are_recovered(pg_url: str) -> None:
    backend = await PostgresBackend.connect(pg_url, {"q": {}})
    try:
        ids = ["orphan-0", "orphan-1", "fresh"]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        # rows another program left active without a lease (or a worker's) ...
        _sql(
            pg_url,
            "UPDATE {s}.job SET state = 'active', lease_until = NULL, worker = 'gone' "
            "WHERE id LIKE 'orphan-%%'",
        )
        ran: list[str] = []

        def finished() -> bool:
            return all(state == "completed" for state, _ in _states(pg_url).values())

        await _run_until(backend, ran, finished, max_stalled_count=1)
        assert sorted(ran) == sorted(ids)
        stalled = _sql(pg_url, "SELECT id, stalled_count FROM {s}.job ORDER BY id")
        assert stalled == [("fresh", 0), ("orphan-0", 1), ("orphan-1", 1)]
    finally:
        await backend.close()

"""A stored job that no JSON decoder reads back (SQLite: data or backoff that is not JSON;
PostgreSQL: data nested deeper than the decoder's recursion limit) fails alone with
InvalidJobData; the jobs leased with it run, and the worker keeps going (issue 10, items 5 and
6, the part the consumer's take-in decides)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, JobStatus, Outcome
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.settings import resolve
from tests.support import postgres as pg_support
from tests.support import sqlite as sqlite_support

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with pg_support.backend_url(tmp_path) as url:
        yield url


async def _drain(
    backend: SqliteBackend | PostgresBackend, name: str, ids: list[str], *, also: object = None
) -> list[str]:
    """Consume until the jobs ``ids`` finished (and ``also()`` is true)."""
    ran: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d.job_id)
        return Completed(None)

    settings = resolve("q", {"batch_size": 2, "poll_interval": 20}, name)
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        for job_id in ids:
            info = await backend.wait("q", job_id, 20)
            assert info.status.finished
        for _ in range(400):
            if also is None or also():  # type: ignore[operator]
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)
    return ran


async def test_sqlite_rows_that_are_not_json_fail_alone(tmp_path: Path) -> None:
    with sqlite_support.backend_url(tmp_path) as url:
        backend = await SqliteBackend.connect(url, {"q": {}})
        try:
            items = [({"n": i}, AddOptions(job_id=f"j{i}")) for i in range(5)]
            await backend.enqueue_many("q", items)
            conn = backend.conn
            conn.execute("UPDATE qgen_jobs SET data = 'not json' WHERE id = 'j1'")
            conn.execute("UPDATE qgen_jobs SET backoff = '{oops' WHERE id = 'j3'")
            ids = [f"j{i}" for i in range(5)]
            ran = await _drain(backend, "sqlite", ids)
            assert sorted(ran) == ["j0", "j2", "j4"]
            for bad in ("j1", "j3"):
                info = await backend.get("q", bad)
                assert info is not None and info.status is JobStatus.FAILED
                assert info.error is not None and info.error.type == "InvalidJobData"
            for good in ("j0", "j2", "j4"):
                info = await backend.get("q", good)
                assert info is not None and info.status is JobStatus.COMPLETED
        finally:
            await backend.close()


async def test_postgres_rows_nested_too_deep_fail_alone(pg_url: str) -> None:
    backend = await PostgresBackend.connect(pg_url, {"q": {}})
    try:
        items = [({"n": i}, AddOptions(job_id=f"j{i}")) for i in range(5)]
        await backend.enqueue_many("q", items)
        pg = parse_url(pg_url)
        schema = sql.Identifier(pg.schema)

        def deep_job() -> tuple[str, str | None]:  # read in SQL: the client cannot decode it
            with psycopg.connect(pg.conninfo, autocommit=True) as conn:
                stmt = sql.SQL("SELECT state::text, error->>'type' FROM {}.job WHERE id = 'j2'")
                row = conn.execute(stmt.format(schema)).fetchone()
            assert row is not None
            return row[0], row[1]

        with psycopg.connect(pg.conninfo, autocommit=True) as conn:
            stmt = sql.SQL("UPDATE {}.job SET data = %s::jsonb WHERE id = 'j2'")
            conn.execute(stmt.format(schema), (DEEP,))
        ids = ["j0", "j1", "j3", "j4"]
        ran = await _drain(backend, "postgres", ids, also=lambda: deep_job()[0] == "failed")
        assert sorted(ran) == ids
        assert deep_job() == ("failed", "InvalidJobData")
    finally:
        await backend.close()

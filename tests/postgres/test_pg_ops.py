"""The operator API on PostgreSQL beyond the contract suite (issue 14): pushes (a running job's
cancel and a pause reach the worker by NOTIFY, long before any lease renewal or poll), the
states of a cancel-requested job that comes back, plans that stay on indexes with 100,000
jobs, the migration of rows written before the operator API, and the workers' heartbeats."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from psycopg import sql

from qgen.runtime.backends.base import (
    AddOptions,
    Cancelled,
    Completed,
    Delivery,
    JobStatus,
    Outcome,
)
from qgen.runtime.backends.ops import WorkerInfo, encode_cursor
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.migrations import MIGRATIONS
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import resolve
from tests.postgres.pg_helpers import rows, until

# Leases renewed every 100 s and polls every 100 s: only a push can act within the test.
SLOW = {"visibility_timeout": 300, "poll_interval": 100_000, "batch_size": 4}


async def test_a_running_job_hears_its_cancel_at_once(pg: PostgresBackend) -> None:
    seen: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(d.job_id)
        while not d.cancel.requested:  # cooperative, as a plain ``def`` job would be
            await asyncio.sleep(0.01)
        return Cancelled(d.cancel.reason)

    consumer = pg.consume([resolve("q", SLOW, "postgres")], handle)
    task = asyncio.create_task(consumer.run())
    try:
        job_id = await pg.enqueue("q", {"n": 1}, AddOptions())
        await until(lambda: seen == [job_id], 30, "the job to start")
        assert await pg.cancel("q", job_id) is True
        info = await pg.wait("q", job_id, 30)  # renewal would come after 100 s
        assert info.status is JobStatus.CANCELLED and info.attempts_made == 1
        assert info.error is not None and info.error.type == "Cancelled"
        assert await pg.cancel("q", job_id) is False
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)


async def test_a_pause_is_heard_at_once_and_a_resume_wakes(pg: PostgresBackend) -> None:
    ran: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d.data["n"])
        return Completed(None)

    consumer = pg.consume([resolve("q", SLOW, "postgres")], handle)
    task = asyncio.create_task(consumer.run())
    try:
        first = await pg.enqueue("q", {"n": 1}, AddOptions())
        await pg.wait("q", first, 30)
        await pg.pause("q")
        assert await pg.is_paused("q") and (await pg.counts("q")).paused
        held = await pg.enqueue("q", {"n": 2}, AddOptions())
        await asyncio.sleep(0.5)  # the add's NOTIFY came: a paused queue leases nothing
        assert ran == [1] and (await pg.counts("q")).waiting == 1
        await pg.resume("q")
        info = await pg.wait("q", held, 30)  # woken by the resume, not by a 100 s poll
        assert info.status is JobStatus.COMPLETED and ran == [1, 2]
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)


async def test_a_cancel_requested_job_given_back_ends_cancelled(
    pg: PostgresBackend, pg_url: str
) -> None:
    """The worker stops before the job sees its cancel: given back, it never runs again."""
    started = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        started.set()
        await asyncio.sleep(3600)  # neither cooperative nor done: the stop's grace ends it
        return Completed(None)

    consumer = pg.consume([resolve("q", SLOW, "postgres")], handle)
    task = asyncio.create_task(consumer.run())
    job_id = await pg.enqueue("q", {"n": 1}, AddOptions())
    await asyncio.wait_for(started.wait(), 30)
    # the request lands in the row only (as if its NOTIFY were lost)
    rows(pg_url, "UPDATE {s}.job SET cancel_requested = true WHERE id = %s", job_id)
    await consumer.stop(0.1)
    await asyncio.wait_for(task, 30)
    info = await pg.get("q", job_id)
    assert info is not None and info.status is JobStatus.CANCELLED and info.attempts_made == 1


def _plan(url: str, stmt: Any, params: tuple[Any, ...]) -> str:
    pg = parse_url(url)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("ANALYZE {}.job").format(sql.Identifier(pg.schema)))
        cur = conn.execute(b"EXPLAIN " + stmt.encode(), params)
        return "\n".join(r[0] for r in cur.fetchall())


async def test_counts_and_pages_use_indexes_with_100000_jobs(
    pg: PostgresBackend, pg_url: str
) -> None:
    """100,000 jobs in one queue (half waiting, half completed) beside a small one: counting
    the small queue never scans the big one, and pages and clean of the big one walk an index
    (a count over half of one queue may scan it: that is the planner's right choice)."""
    rows(
        pg_url,
        "INSERT INTO {s}.job (queue, id, data, state, completed_on) "
        "SELECT CASE WHEN g <= 100000 THEN 'big' ELSE 'q' END, 'j' || g, '{{}}'::jsonb, "
        "(CASE WHEN mod(g, 2) = 0 THEN 'completed' ELSE 'created' END)::{s}.job_state, "
        "CASE WHEN mod(g, 2) = 0 THEN now() - g * interval '1 ms' END "
        "FROM generate_series(1, 100100) g",
    )
    assert (await pg.counts("big")).completed == 50_000
    counts = await pg.counts("q")
    assert (counts.waiting, counts.completed) == (50, 50)
    page, cursor = await pg.list_jobs("big", JobStatus.COMPLETED, 3, None)
    assert [j.id for j in page] == ["j2", "j4", "j6"] and cursor is not None
    page, _ = await pg.list_jobs("big", JobStatus.COMPLETED, 2, cursor)
    assert [j.id for j in page] == ["j8", "j10"]
    st = pg.st
    far = "9999-12-31T00:00:00+00:00"
    plans = {
        "counts": _plan(pg_url, st.counts, ("q",) * 5),
        "waiting": _plan(pg_url, st.list_waiting, ("big", far, "", 50)),
        "finished": _plan(pg_url, st.list_finished, ("big", "completed", far, "", 50)),
        "clean": _plan(pg_url, st.clean, ("big", "completed", 60.0, 60.0, 1000)),
    }
    for name, plan in plans.items():
        assert "Seq Scan" not in plan, f"{name}:\n{plan}"


async def test_rows_from_before_the_operator_api_migrate(pg_url: str) -> None:
    """Version 1's 'cancelled' was a discard: it becomes 'discarded' (its attempt counted)."""
    pg = parse_url(pg_url)
    s = sql.Identifier(pg.schema)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(s))
        conn.execute(
            sql.SQL(
                "CREATE TABLE {}.migrations (version integer PRIMARY KEY, "
                "applied_on timestamptz NOT NULL DEFAULT now())"
            ).format(s)
        )
        for stmt in MIGRATIONS[1]:
            conn.execute(sql.SQL(stmt).format(s=s))  # type: ignore[arg-type]
        conn.execute(sql.SQL("INSERT INTO {}.migrations VALUES (1)").format(s))
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.job (queue, id, state, data, completed_on) VALUES "
                "('q', 'dropped', 'cancelled', '{{}}', now())"
            ).format(s)
        )
    backend = await PostgresBackend.connect(pg_url, {})
    try:
        info = await backend.get("q", "dropped")
        assert info is not None and info.status is JobStatus.DISCARDED
        assert info.attempts_made == 1
    finally:
        await backend.close()


async def test_workers_beat_and_leave(pg: PostgresBackend) -> None:
    me = WorkerInfo("w", "host-a", 41, ("q", "r"), 1000.0, 1000.0, "postgres")
    other = WorkerInfo("v", "host-b", 42, ("r",), 1000.0, 1000.0, "postgres")
    await pg.heartbeat(me)
    await pg.heartbeat(other)
    await pg.heartbeat(me)  # a beat again: still one record
    assert [w.name for w in await pg.workers(None)] == ["v", "w"]
    assert [w.name for w in await pg.workers("q")] == ["w"]
    await pg.heartbeat(me, stopping=True)
    assert [w.name for w in await pg.workers(None)] == ["v"]


async def test_listing_an_unknown_status_or_a_forged_cursor_is_refused(
    pg: PostgresBackend,
) -> None:
    with pytest.raises(ConfigError):
        await pg.list_jobs("q", JobStatus.UNKNOWN, 10, None)
    with pytest.raises(ConfigError):
        await pg.list_jobs("q", JobStatus.WAITING, 10, encode_cursor(1e300, "x"))

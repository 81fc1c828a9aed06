"""The SQLite operator API and retention, beyond the contract suite: every operator statement
walks an index, a trim that fell far behind catches up to the bound in steps, a running job an
operator cancelled ends cancelled when it is given back or its lease runs out, and a pause set
through another connection stops a worker within one poll."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from qgen.runtime.backends.base import (
    AddOptions,
    Cancelled,
    Completed,
    Delivery,
    ErrorInfo,
    JobStatus,
    Outcome,
    Retry,
)
from qgen.runtime.backends.sqlite import SqliteBackend, ops_sql
from qgen.runtime.backends.sqlite import outcomes as sqlite_outcomes
from qgen.runtime.settings import resolve
from tests.unit.sqlite.sqlite_helpers import rows, run_until


def test_operator_statements_walk_indexes(backend: SqliteBackend) -> None:
    inf = float("inf")
    plans = {
        "counts": (ops_sql.COUNTS, ("q", 0.0)),
        "count finished": (ops_sql.COUNT_FINISHED, ("q",)),
        "list waiting": (ops_sql.LIST_WAITING, ("q", 0.0, inf, "", 51)),
        "list delayed": (ops_sql.LIST_DELAYED, ("q", 0.0, inf, "", 51)),
        "list active": (ops_sql.LIST_ACTIVE, ("q", 0.0, inf, "", 51)),
        "list finished": (ops_sql.LIST_FINISHED, ("q", "failed", inf, "", 51)),
        "retry failed": (ops_sql.RETRY_FAILED, (0.0, "q", -1)),
        "clean": (ops_sql.CLEAN, ("q", "completed", None, 0, 100)),
        "dead letters": (ops_sql.DEAD_LETTERS, ("dead", "q", 0.0, 0, 100)),
    }
    for name, (stmt, params) in plans.items():
        plan = backend.conn.execute("EXPLAIN QUERY PLAN " + stmt, params).fetchall()
        detail = " | ".join(r[3] for r in plan)
        scans = [r[3] for r in plan if r[3].startswith("SCAN qgen_jobs") and "INDEX" not in r[3]]
        assert not scans, (name, detail)


async def _finished_rows(backend: SqliteBackend, n: int) -> None:
    """``n`` completed rows as an older qgen (or a worker without retention) left them."""
    now = time.time()
    params = [("q", f"old-{i:06d}", now - 10 + i / n) for i in range(n)]
    conn = backend.conn
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO qgen_jobs (queue, id, state, data, max_attempts, start_after, created_at,"
        " finished_at, result) VALUES (?1, ?2, 'completed', '1', 1, 0, 0, ?3, 'null')",
        params,
    )
    conn.execute("COMMIT")


async def test_a_trim_far_behind_catches_up_to_the_bound(backend: SqliteBackend) -> None:
    backlog = 3 * sqlite_outcomes.TRIM_STEP + 500  # several steps' worth past the bound
    await _finished_rows(backend, backlog)
    job = await backend.enqueue("q", 1, AddOptions())

    async def handle(d: Delivery) -> Outcome:
        return Completed(None)

    async def trimmed() -> bool:
        counts = await backend.counts("q")
        return counts.completed == 1_000  # the default bound

    settings = [resolve("q", {"poll_interval": 20}, "sqlite")]
    await run_until(backend, settings, handle, trimmed)
    info = await backend.get("q", job)
    assert info is not None and info.status is JobStatus.COMPLETED  # the newest is kept
    oldest = rows(backend, "SELECT min(id) FROM qgen_jobs WHERE id LIKE 'old-%'")[0][0]
    assert oldest == f"old-{backlog - 999:06d}"  # the oldest went first


async def test_cancel_requested_jobs_end_cancelled_when_given_back(
    backend: SqliteBackend,
) -> None:
    started = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        started.set()
        await asyncio.Event().wait()  # never ends on its own: the stop gives it back
        return Completed(None)

    job = await backend.enqueue("q", 1, AddOptions())
    settings = [resolve("q", {"poll_interval": 20, "visibility_timeout": 60}, "sqlite")]
    consumer = backend.consume(settings, handle)
    task = asyncio.create_task(consumer.run())
    await asyncio.wait_for(started.wait(), 30)
    assert await backend.cancel("q", job) is True  # running: a request, seen at renewal
    await consumer.stop(0)  # before any renewal: the job is given back
    await asyncio.wait_for(task, 30)
    info = await backend.get("q", job)
    assert info is not None and info.status is JobStatus.CANCELLED
    assert info.error is not None and info.error.type == "Cancelled"


async def test_an_expired_lease_of_a_cancelled_job_ends_cancelled(
    backend: SqliteBackend,
) -> None:
    job = await backend.enqueue("q", 1, AddOptions())
    backend.conn.execute(
        "UPDATE qgen_jobs SET state = 'active', lease = 'gone', lease_until = 1,"
        " cancel_requested = 1 WHERE id = ?",
        (job,),
    )
    ran: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d.job_id)
        return Completed(None)

    async def ended() -> bool:
        info = await backend.get("q", job)
        return info is not None and info.status is JobStatus.CANCELLED

    await run_until(backend, [resolve("q", {"poll_interval": 20}, "sqlite")], handle, ended)
    assert ran == []


async def test_a_pause_from_another_connection_holds_and_resume_releases(url: str) -> None:
    worker = await SqliteBackend.connect(url, {"q": {}})
    operator = await SqliteBackend.connect(url, {"q": {}})
    try:
        ran: list[str] = []

        async def handle(d: Delivery) -> Outcome:
            ran.append(d.job_id)
            return Completed(None)

        first = await operator.enqueue("q", 1, AddOptions())
        consumer = worker.consume([resolve("q", {"poll_interval": 20}, "sqlite")], handle)
        task = asyncio.create_task(consumer.run())
        try:
            info = await operator.wait("q", first, 30)
            assert info.status is JobStatus.COMPLETED
            await operator.pause("q")
            lane = consumer.lanes[0]
            for _ in range(600):  # the worker learns it at its next poll
                if lane.paused:
                    break
                await asyncio.sleep(0.05)
            assert lane.paused
            held = await operator.enqueue("q", 2, AddOptions())
            await asyncio.sleep(0.3)  # several polls: the paused queue leases nothing
            assert (await operator.counts("q")).waiting == 1
            assert ran == [first]
            await operator.resume("q")
            info = await operator.wait("q", held, 30)
            assert info.status is JobStatus.COMPLETED and ran == [first, held]
        finally:
            await consumer.stop(5)
            await asyncio.wait_for(task, 30)
    finally:
        await worker.close()
        await operator.close()


async def test_a_cancelled_job_that_fails_is_not_retried(backend: SqliteBackend) -> None:
    go = asyncio.Event()
    runs: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        runs.append(d.attempt)
        await go.wait()
        return Retry(ErrorInfo("Boom", "failed after the cancel"), 0.0)

    job = await backend.enqueue("q", 1, AddOptions())
    settings = [resolve("q", {"poll_interval": 20, "visibility_timeout": 60}, "sqlite")]

    async def ended() -> bool:
        if runs and not go.is_set():
            assert await backend.cancel("q", job) is True  # before the worker renews
            go.set()
        info = await backend.get("q", job)
        return info is not None and info.status.finished

    await run_until(backend, settings, handle, ended)
    info = await backend.get("q", job)
    assert info is not None and info.status is JobStatus.CANCELLED and runs == [1]
    assert info.error is not None and info.error.type == "Cancelled"


async def test_a_cancel_in_the_same_process_reaches_the_running_job_at_once(
    backend: SqliteBackend,
) -> None:
    """Leases here last 600 s (renewed every 200 s): the job hears the cancel long before, or
    the test's guard (30 s) fails it."""
    flags: list[Any] = []

    async def handle(d: Delivery) -> Outcome:
        flags.append(d.cancel)
        while not d.cancel.requested:
            await asyncio.sleep(0.01)
        return Cancelled(d.cancel.reason)

    job = await backend.enqueue("q", 1, AddOptions())
    settings = [resolve("q", {"poll_interval": 20, "visibility_timeout": 600}, "sqlite")]

    async def ended() -> bool:
        if flags and not flags[0].requested:
            assert await backend.cancel("q", job) is True
        info = await backend.get("q", job)
        return info is not None and info.status.finished

    await run_until(backend, settings, handle, ended)
    info = await backend.get("q", job)
    assert info is not None and info.status is JobStatus.CANCELLED

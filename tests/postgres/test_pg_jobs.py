"""Adding, reading and finishing jobs on a real PostgreSQL (handlers written here)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    JobStatus,
    Outcome,
    Retry,
)
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.errors import JobNotFound, JobTimeout
from tests.postgres.pg_helpers import consuming, rows, until


async def test_statuses_before_running(pg: PostgresBackend) -> None:
    now = await pg.enqueue("q", {"a": 1}, AddOptions())
    later = await pg.enqueue("q", {"a": 2}, AddOptions(delay=30))
    info = await pg.get("q", now)
    assert info is not None and info.status is JobStatus.WAITING
    assert (info.data, info.attempts_made, info.max_attempts) == ({"a": 1}, 0, 3)
    info = await pg.get("q", later)
    assert info is not None and info.status is JobStatus.DELAYED
    assert await pg.get("q", "missing") is None
    assert await pg.get("other", now) is None


async def test_job_id_is_idempotent(pg: PostgresBackend, pg_url: str) -> None:
    assert await pg.enqueue("q", {"v": 1}, AddOptions(job_id="order-7")) == "order-7"
    assert await pg.enqueue("q", {"v": 2}, AddOptions(job_id="order-7")) == "order-7"
    ids = await pg.enqueue_many(
        "q", [({"v": 3}, AddOptions(job_id="order-7")), ({"v": 4}, AddOptions(job_id="b"))]
    )
    assert ids == ["order-7", "b"]
    info = await pg.get("q", "order-7")
    assert info is not None and info.data == {"v": 1}
    assert rows(pg_url, "SELECT count(*) FROM {s}.job") == [(2,)]


async def test_priority_then_fifo(pg: PostgresBackend) -> None:
    for i in range(3):
        await pg.enqueue("q", {"i": f"low{i}"}, AddOptions())
    await pg.enqueue_many("q", [({"i": f"high{i}"}, AddOptions(priority=5)) for i in range(2)])
    await pg.enqueue("q", {"i": "mid"}, AddOptions(priority=1))
    order: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        order.append(d.data["i"])
        return Completed(None)

    async with consuming(pg, handle, batch_size=1):
        await until(lambda: len(order) == 6)
    assert order == ["high0", "high1", "mid", "low0", "low1", "low2"]


async def test_result_wait_and_error_outcomes(pg: PostgresBackend, pg_url: str) -> None:
    async def handle(d: Delivery) -> Outcome:
        kind = d.data["kind"]
        if kind == "ok":
            return Completed({"echo": d.data, "attempt": d.attempt})
        if kind == "fail":
            return Failed(ErrorInfo("Boom", "it broke", "tb"), "dead")
        return Discarded("not needed")

    ok = await pg.enqueue("q", {"kind": "ok"}, AddOptions())
    bad = await pg.enqueue("q", {"kind": "fail"}, AddOptions())
    gone = await pg.enqueue("q", {"kind": "discard"}, AddOptions())
    async with consuming(pg, handle):
        info = await pg.wait("q", ok, timeout=10)
        assert info.status is JobStatus.COMPLETED
        assert info.result == {"echo": {"kind": "ok"}, "attempt": 1}
        assert info.attempts_made == 1 and info.finished_at is not None
        info = await pg.wait("q", bad, timeout=10)
        assert info.status is JobStatus.FAILED
        assert info.error == ErrorInfo("Boom", "it broke", "tb")
        info = await pg.wait("q", gone, timeout=10)
        assert info.status is JobStatus.DISCARDED
        assert info.error is not None and info.error.message == "not needed"
    # the dead-letter copy: same id and data, waiting on the dead-letter queue
    copy = await pg.get("dead", bad)
    assert copy is not None and copy.status is JobStatus.WAITING
    assert copy.data == {"kind": "fail"} and copy.dead_letter_of == "q"
    # discarded has a state of its own; pg-boss's cancelled is an operator's cancel
    assert rows(pg_url, "SELECT state::text FROM {s}.job WHERE queue='q' AND id=%s", gone) == [
        ("discarded",)
    ]


async def test_retry_with_backoff_delay(pg: PostgresBackend) -> None:
    starts: list[tuple[int, float]] = []

    async def handle(d: Delivery) -> Outcome:
        starts.append((d.attempt, time.monotonic()))
        if d.attempt < 3:
            return Retry(ErrorInfo("Flaky", f"try {d.attempt}"), 0.3)
        return Completed(d.attempt)

    job = await pg.enqueue("q", {}, AddOptions(attempts=5, backoff={"type": "fixed", "delay": 1}))
    async with consuming(pg, handle, poll_interval=60_000):
        await until(lambda: len(starts) == 1)
        await until(lambda: len(starts) == 3, 30)
        info = await pg.wait("q", job, timeout=30)
    assert info.result == 3 and info.attempts_made == 3 and info.max_attempts == 5
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(starts)]
    # the worker sleeps until start_after: far sooner than its one-minute poll
    assert all(0.28 <= g < 0.3 + 5 for g in gaps), gaps
    assert [a for a, _ in starts] == [1, 2, 3]


async def test_job_backoff_reaches_the_delivery(pg: PostgresBackend) -> None:
    seen: list[Any] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append((d.backoff, d.max_attempts))
        return Completed(None)

    await pg.enqueue("q", {}, AddOptions(attempts=7, backoff={"type": "fixed", "delay": 5}))
    await pg.enqueue("q", {}, AddOptions())
    async with consuming(pg, handle):
        await until(lambda: len(seen) == 2)
    assert sorted(seen, key=str) == sorted([({"type": "fixed", "delay": 5}, 7), (None, 3)], key=str)


async def test_progress_is_stored_while_running(pg: PostgresBackend) -> None:
    gate = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        await d.report_progress({"step": 1, "of": 2})
        await gate.wait()
        return Completed(None)

    job = await pg.enqueue("q", {}, AddOptions())
    async with consuming(pg, handle):

        async def progressed() -> bool:
            info = await pg.get("q", job)
            return info is not None and info.progress == {"step": 1, "of": 2}

        await until(progressed)
        info = await pg.get("q", job)
        assert info is not None and info.status is JobStatus.ACTIVE and info.attempts_made == 1
        gate.set()
        await pg.wait("q", job, 5)


async def test_wait_timeout_and_not_found(pg: PostgresBackend) -> None:
    job = await pg.enqueue("q", {}, AddOptions())
    t0 = time.monotonic()
    with pytest.raises(JobTimeout):
        await pg.wait("q", job, timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 10
    with pytest.raises(JobNotFound):
        await pg.wait("q", "nope", timeout=1)


@pytest.mark.parametrize(
    ("keep_done", "keep_failed", "left_done", "left_failed"),
    [(True, True, 0, 0), (2, 1, 2, 1), (None, None, 6, 3)],
)
async def test_retention(
    pg: PostgresBackend,
    pg_url: str,
    keep_done: Any,
    keep_failed: Any,
    left_done: int,
    left_failed: int,
) -> None:
    async def handle(d: Delivery) -> Outcome:
        if d.data["ok"]:
            return Completed(d.data["i"])
        return Failed(ErrorInfo("E", "no"), None)

    items = [({"i": i, "ok": i % 3 != 0}, AddOptions()) for i in range(9)]
    ids = await pg.enqueue_many("q", items)
    # one job per round: distinct finish times, so "the newest" is well defined
    config: dict[str, Any] = {"batch_size": 1, "prefetch": 1}
    if keep_done is not None:
        config |= {"remove_on_complete": keep_done, "remove_on_fail": keep_failed}
    async with consuming(pg, handle, **config):
        await until(
            lambda: (
                rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state < 'active'") == [(0,)]
                and rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state = 'active'") == [(0,)]
            )
        )
    counts = dict(rows(pg_url, "SELECT state::text, count(*) FROM {s}.job GROUP BY 1"))
    assert counts.get("completed", 0) == left_done
    assert counts.get("failed", 0) == left_failed
    if left_done == 2:  # the newest are kept
        kept = rows(pg_url, "SELECT output FROM {s}.job WHERE state = 'completed'")
        assert sorted(o for (o,) in kept) == [7, 8]
    assert len(ids) == 9


async def test_nul_in_result_fails_that_job_alone(pg: PostgresBackend) -> None:
    async def handle(d: Delivery) -> Outcome:
        return Completed("bad\x00" if d.data["poison"] else "fine")

    ids = await pg.enqueue_many("q", [({"poison": i == 3}, AddOptions()) for i in range(8)])
    async with consuming(pg, handle):
        infos = [await pg.wait("q", i, 10) for i in ids]
    assert [i.status for i in infos].count(JobStatus.COMPLETED) == 7
    assert infos[3].status is JobStatus.FAILED
    assert infos[3].error is not None and infos[3].error.type == "ResultNotStorable"


async def test_generated_ids_are_time_ordered_version_7_uuids(
    pg: PostgresBackend, pg_url: str
) -> None:
    """The ids qgen picks for adds without one read as version 7 UUIDs in their usual form:
    the millisecond of the add, then random bits; all different, ordered by their millisecond,
    and stored as given."""
    before = time.time_ns() // 1_000_000
    ids = await pg.enqueue_many("q", [({"n": i}, AddOptions()) for i in range(2000)])
    ids.append(await pg.enqueue("q", {"n": -1}, AddOptions()))
    after = time.time_ns() // 1_000_000
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids
    assert len(set(ids)) == len(ids)
    millis = [u.int >> 80 for u in parsed]
    assert before <= millis[0] and millis[-1] <= after
    assert millis == sorted(millis)
    stored = {r[0] for r in rows(pg_url, "SELECT id FROM {s}.job WHERE queue = 'q'")}
    assert stored == set(ids)

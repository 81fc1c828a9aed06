"""Leases, heartbeats, stalls, shutdown, wake-ups and reconnects of the PostgreSQL consumer."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    JobStatus,
    Outcome,
)
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.settings import resolve
from tests.postgres.pg_helpers import consuming, rows, until

DEAD = (
    "UPDATE {s}.job SET state = 'active', worker = 'dead-worker', started_on = now(), "
    "lease_until = now() - interval '1 second' WHERE id = %s"
)


async def test_expired_lease_returns_to_retry_and_runs_again(
    pg: PostgresBackend, pg_url: str
) -> None:
    job = await pg.enqueue("q", {"x": 1}, AddOptions(job_id="j1"))
    rows(pg_url, DEAD, job)  # a worker leased it and died
    seen: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(d.attempt)
        return Completed("again")

    async with consuming(pg, handle, visibility_timeout=1, max_stalled_count=1):
        info = await pg.wait("q", job, 10)
    assert info.status is JobStatus.COMPLETED and info.result == "again"
    assert seen == [1]  # a stall is not a failed attempt
    assert rows(pg_url, "SELECT stalled_count FROM {s}.job WHERE id = 'j1'") == [(1,)]


async def test_too_many_stalls_fail_the_job_with_dead_letter(
    pg: PostgresBackend, pg_url: str
) -> None:
    producer = await PostgresBackend.connect(pg_url, {"q": {"dead_letter": "q-dead"}})
    try:
        job = await producer.enqueue("q", {"x": 2}, AddOptions())
    finally:
        await producer.close()
    rows(pg_url, "UPDATE {s}.job SET stalled_count = 2 WHERE id = %s", job)
    rows(pg_url, DEAD, job)

    async def handle(d: Delivery) -> Outcome:
        raise AssertionError("a job past max_stalled_count must not run")

    async with consuming(pg, handle, visibility_timeout=1, max_stalled_count=2):
        await until(lambda: rows(pg_url, "SELECT count(*) FROM {s}.job WHERE queue='q-dead'")[0][0])
    info = await pg.get("q", job)
    assert info is not None and info.status is JobStatus.FAILED
    assert info.error is not None and info.error.type == "JobStalled"
    copy = await pg.get("q-dead", job)
    assert copy is not None and copy.data == {"x": 2}


async def test_heartbeats_keep_a_long_job_leased(pg_url: str) -> None:
    a = await PostgresBackend.connect(pg_url, {})
    b = await PostgresBackend.connect(pg_url, {})
    runs: list[str] = []

    async def slow(d: Delivery) -> Outcome:
        runs.append("a")
        await asyncio.sleep(2.5)  # 2.5 visibility timeouts
        return Completed(None)

    async def other(d: Delivery) -> Outcome:
        runs.append("b")
        return Completed(None)

    try:
        job = await a.enqueue("q", {}, AddOptions())
        async with consuming(a, slow, visibility_timeout=1):
            await until(lambda: runs == ["a"])
            async with consuming(b, other, visibility_timeout=1):
                info = await a.wait("q", job, 10)
        assert info.status is JobStatus.COMPLETED
        assert runs == ["a"]
    finally:
        await a.close()
        await b.close()


async def test_stop_gives_unfinished_jobs_back(pg: PostgresBackend, pg_url: str) -> None:
    started = asyncio.Event()

    async def forever(d: Delivery) -> Outcome:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    ids = await pg.enqueue_many("q", [({"i": i}, AddOptions()) for i in range(30)])
    t0 = time.monotonic()
    async with consuming(pg, forever, grace=0.3, batch_size=2, prefetch=5):
        await started.wait()
    assert time.monotonic() - t0 < 20  # the 0.3 s grace, not the job that never ends
    states = rows(pg_url, "SELECT state::text, retry_count, stalled_count FROM {s}.job")
    assert Counter(states) == Counter({("created", 0, 0): 30})
    info = await pg.get("q", ids[0])
    assert info is not None and info.status is JobStatus.WAITING and info.attempts_made == 0


async def test_two_consumers_never_hold_the_same_job(pg_url: str) -> None:
    a = await PostgresBackend.connect(pg_url, {})
    b = await PostgresBackend.connect(pg_url, {})
    holding: set[str] = set()
    runs: Counter[str] = Counter()
    overlaps: list[str] = []

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(d: Delivery) -> Outcome:
            if d.job_id in holding:
                overlaps.append(d.job_id)
            holding.add(d.job_id)
            runs[d.job_id] += 1
            await asyncio.sleep(0.001 if name == "a" else 0)
            holding.discard(d.job_id)
            return Completed(name)

        return handle

    try:
        ids = await a.enqueue_many("q", [({"i": i}, AddOptions()) for i in range(1500)])
        async with consuming(a, handler("a")), consuming(b, handler("b")):
            await until(lambda: len(runs) == 1500, 60)
        assert not overlaps
        assert set(runs) == set(ids) and set(runs.values()) == {1}
        by = dict(rows(pg_url, "SELECT output #>> '{{}}', count(*) FROM {s}.job GROUP BY 1"))
        assert by.get("a", 0) > 0 and by.get("b", 0) > 0, by
    finally:
        await a.close()
        await b.close()


async def test_idle_worker_is_woken_by_notify(pg: PostgresBackend) -> None:
    started: dict[str, float] = {}

    async def handle(d: Delivery) -> Outcome:
        started[d.job_id] = time.monotonic()
        return Completed(None)

    lat: list[float] = []
    # poll_interval of a minute: only NOTIFY can start these jobs well before it
    async with consuming(pg, handle, poll_interval=60_000):
        await asyncio.sleep(0.3)
        for _ in range(5):
            t0 = time.monotonic()
            job = await pg.enqueue("q", {}, AddOptions())
            await until(lambda j=job: j in started, 30)
            lat.append(started[job] - t0)
    assert max(lat) < 10, lat


async def test_delayed_job_starts_on_time_without_polling(pg: PostgresBackend) -> None:
    started: list[float] = []

    async def handle(d: Delivery) -> Outcome:
        started.append(time.monotonic())
        return Completed(None)

    async with consuming(pg, handle, poll_interval=60_000):
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        await pg.enqueue("q", {}, AddOptions(delay=0.6))
        await until(lambda: started, 30)
    assert 0.55 <= started[0] - t0 < 0.6 + 5  # due time, not the one-minute poll


async def test_consumer_reconnects_after_its_connections_are_killed(
    pg: PostgresBackend, pg_url: str
) -> None:
    done: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        await asyncio.sleep(0.01)
        done.append(d.job_id)
        return Completed(None)

    ids = await pg.enqueue_many("q", [({"i": i}, AddOptions()) for i in range(300)])
    async with consuming(pg, handle, poll_interval=200):
        await until(lambda: len(done) > 50)
        killed = rows(
            pg_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND application_name NOT LIKE 'qgen-wait%%' AND state IS NOT NULL "
            "AND query ILIKE %s",
            f"%{pg.schema}%",
        )
        assert killed
        await until(lambda: set(done) >= set(ids), 30)
        late = await pg.enqueue("q", {"late": True}, AddOptions())
        await until(lambda: late in done, 10)
    left = rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state <> 'completed'")
    assert left == [(0,)]


async def test_stop_while_the_loops_still_connect(
    pg: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop that comes while a queue's loop is still opening its connection (a worker stopped
    right after it started, on a busy machine) ends the consumer; the loop must not clear the
    stop's wake-up and then idle with nothing to wait for."""
    from qgen.runtime.backends.postgres import consumer as postgres_consumer

    real_connect = postgres_consumer.connect
    connecting: list[str] = []

    async def slow_connect(*args: Any, **kwargs: Any) -> Any:
        connecting.append("loop")
        await asyncio.sleep(0.5)  # the real server, reached late
        return await real_connect(*args, **kwargs)

    async def handle(d: Delivery) -> Outcome:
        return Completed(None)

    monkeypatch.setattr(postgres_consumer, "connect", slow_connect)
    settings = [resolve(f"q{i}", {"poll_interval": 60_000}, "postgres") for i in range(3)]
    consumer = pg.consume(settings, handle)
    task = asyncio.create_task(consumer.run())
    await until(lambda: len(connecting) == 2, 30, "the loops to start connecting")
    await consumer.stop(1)
    await asyncio.wait_for(task, 30)  # hung forever before the fix

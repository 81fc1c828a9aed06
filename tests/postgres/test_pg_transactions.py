"""``add(..., connection=conn)`` joins the caller's transaction: commit keeps, rollback drops."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, Outcome
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.url import parse_url
from tests.postgres.pg_app import AsyncQueueClient, Job, QueueClient
from tests.postgres.pg_helpers import consuming, rows, until


async def test_async_connection_commit_and_rollback(pg: PostgresBackend, pg_url: str) -> None:
    dsn = parse_url(pg_url).conninfo
    started: dict[str, float] = {}

    async def handle(d: Delivery) -> Outcome:
        started[d.job_id] = time.monotonic()
        return Completed(None)

    async with consuming(pg, handle, poll_interval=60_000):
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            async with conn.transaction():
                await conn.execute("SELECT 1")
                kept = await pg.enqueue("q", {"k": 1}, AddOptions(extra={"connection": conn}))
                # not visible outside the transaction, and not started, before commit
                assert await pg.get("q", kept) is None
                await asyncio.sleep(0.3)
                assert kept not in started
                committed = time.monotonic()
            await until(lambda: kept in started, 30)
            assert started[kept] >= committed  # never before the commit
            assert started[kept] - committed < 10  # woken by NOTIFY, not the one-minute poll
            with pytest.raises(ZeroDivisionError):
                async with conn.transaction():
                    dropped = await pg.enqueue(
                        "q", {"k": 2}, AddOptions(extra={"connection": conn})
                    )
                    ids = await pg.enqueue_many(
                        "q", [({"k": 3}, AddOptions(extra={"connection": conn}))]
                    )
                    raise ZeroDivisionError
        assert await pg.get("q", dropped) is None and await pg.get("q", ids[0]) is None
    assert rows(pg_url, "SELECT count(*) FROM {s}.job") == [(1,)]


async def test_sync_connection_commit_and_rollback(pg: PostgresBackend, pg_url: str) -> None:
    dsn = parse_url(pg_url).conninfo
    with psycopg.connect(dsn) as conn:  # not autocommit: a transaction is open
        kept = await pg.enqueue("q", {"k": 1}, AddOptions(extra={"connection": conn}))
        assert await pg.get("q", kept) is None
        conn.commit()
        assert await pg.get("q", kept) is not None
        gone = await pg.enqueue_many(
            "q", [({"k": i}, AddOptions(extra={"connection": conn})) for i in range(3)]
        )
        conn.rollback()
    for job_id in gone:
        assert await pg.get("q", job_id) is None


def test_wrong_connection_type_is_refused(pg_url: str) -> None:
    with QueueClient(pg_url) as client, pytest.raises(TypeError, match="psycopg"):
        client.queue("jobs").add(Job(n=1), connection=object())


async def test_async_client_joins_the_transaction(pg_url: str) -> None:
    dsn = parse_url(pg_url).conninfo
    async with AsyncQueueClient(pg_url) as client:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            async with conn.transaction():
                h = await client.queue("jobs").add(Job(n=1), connection=conn)
                await conn.execute("SELECT 1")
            with pytest.raises(RuntimeError):
                async with conn.transaction():
                    lost = await client.queue("jobs").add(Job(n=2), connection=conn)
                    raise RuntimeError("rolled back")
        assert (await h.info()).data["n"] == 1
        ids = rows(pg_url, "SELECT id FROM {s}.job")
        assert ids == [(h.id,)] and lost.id != h.id


def test_sync_client_joins_the_transaction(pg_url: str) -> None:
    dsn = parse_url(pg_url).conninfo
    with QueueClient(pg_url) as client, psycopg.connect(dsn) as conn:
        with conn.transaction():
            h = client.queue("jobs").add(Job(n=1), connection=conn)
            many = client.queue("jobs").add_many([Job(n=2), Job(n=3)], connection=conn)
            assert rows(pg_url, "SELECT count(*) FROM {s}.job") == [(0,)]  # not committed
        with pytest.raises(KeyError), conn.transaction():
            client.queue("jobs").add(Job(n=4), connection=conn)
            raise KeyError("rolled back")
        assert h.info().data["n"] == 1
        assert sorted(x.info().data["n"] for x in many) == [2, 3]
    assert rows(pg_url, "SELECT count(*) FROM {s}.job") == [(3,)]


def test_sync_client_from_another_thread_with_a_worker(pg_url: str) -> None:
    """The sync client used outside any event loop, with a worker running in this process."""
    box: dict[str, object] = {}

    def produce() -> None:
        with QueueClient(pg_url) as client:
            h = client.queue("jobs").add(Job(n=9))
            box["result"] = h.result(timeout=10)

    async def main() -> None:
        from qgen.runtime.worker import run_worker

        stop = asyncio.Event()
        task = asyncio.create_task(
            run_worker(
                pg_url,
                wiring_modules=["tests.postgres.pg_app"],
                services=None,
                queues=["jobs"],  # not every queue other test modules wired in this process
                stop=stop,
            )
        )
        t = threading.Thread(target=produce)
        t.start()
        await asyncio.get_running_loop().run_in_executor(None, t.join)
        stop.set()
        await task

    asyncio.run(main())
    assert box["result"] == {"n": 9, "attempt": 1} or getattr(box["result"], "n", None) == 9

"""Issue 13 on PostgreSQL: a worker's connections are bounded whatever its number of queues,
clients of one process share theirs, and a deep backlog never starves an idle queue.

Not timed: the bounds are counts in ``pg_stat_activity`` (the connections carry the test's own
``application_name``), and fairness is an ordering (the idle queue's job completes while the
backlog is still far from drained)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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
from qgen.runtime.backends.postgres.url import DEFAULT_WORKER_CONNECTIONS, parse_url
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import resolve
from tests.postgres import pg_many_app
from tests.postgres.pg_helpers import ROOT, rows, until

BACKLOG = 100_000


def _tagged(url: str) -> tuple[str, str]:
    tag = f"qgen-test-{uuid.uuid4().hex[:10]}"
    return f"{url}&application_name={tag}", tag


def _held(url: str, tag: str) -> int:
    return int(
        rows(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", tag)[0][0]
    )


def test_worker_connections_in_the_url() -> None:
    base = "postgresql://u@h/db?schema=s"
    assert parse_url(base).worker_connections == DEFAULT_WORKER_CONNECTIONS == 4
    assert parse_url(base + "&worker_connections=3").worker_connections == 3
    assert "worker_connections" not in parse_url(base + "&worker_connections=9").conninfo
    for bad in ("2", "65", "x", "4.5", "-4", "٣"):
        with pytest.raises(ConfigError, match="worker_connections"):
            parse_url(f"{base}&worker_connections={bad}")


async def test_a_worker_with_150_queues_holds_at_most_4_connections(pg_url: str) -> None:
    (max_connections,) = rows(pg_url, "SHOW max_connections")[0]
    # untouched (PostgreSQL's default is 100): one connection per queue could not start here
    assert int(max_connections) < pg_many_app.QUEUES, max_connections
    url, tag = _tagged(pg_url)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--grace", "5"]
    cmd += ["--wiring", "tests.postgres.pg_many_app", "--log-level", "WARNING"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    backend = await PostgresBackend.connect(pg_url, {})
    most = 0
    try:

        def sample() -> int:
            nonlocal most
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            held = _held(pg_url, tag)
            most = max(most, held)
            return held

        await until(lambda: sample() >= 3, 60, "the worker to connect")
        names = [
            pg_many_app.queue_name(i) for i in (0, pg_many_app.QUEUES // 2, pg_many_app.QUEUES - 1)
        ]
        ids = {q: await backend.enqueue(q, {"to": q}, AddOptions()) for q in names}
        for queue, job_id in ids.items():
            deadline = time.monotonic() + 30
            while not (info := await backend.get(queue, job_id)) or not info.status.finished:
                sample()
                assert time.monotonic() < deadline, f"the job on {queue} never finished"
                await asyncio.sleep(0.05)
            assert info.status is JobStatus.COMPLETED and info.result == {"queue": queue}
        for _ in range(20):  # and it stays within the bound while idle
            sample()
            await asyncio.sleep(0.05)
        assert 3 <= most <= DEFAULT_WORKER_CONNECTIONS
    finally:
        await backend.close()
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert proc.returncode == 0, out
    assert "too many clients" not in out


async def _backlog(url: str, queue: str, n: int) -> None:
    rows(
        url,
        "INSERT INTO {s}.job (queue, id, data) SELECT %s, 'b' || g, '{{}}'::jsonb "
        "FROM generate_series(1, %s) g",
        queue,
        n,
    )


@pytest.mark.parametrize("connections", [3, 4])
async def test_a_deep_backlog_never_starves_an_idle_queue(pg_url: str, connections: int) -> None:
    """With 3 connections both queues share one round loop; with 4 each has its own."""
    url = f"{pg_url}&worker_connections={connections}"
    backend = await PostgresBackend.connect(url, {})
    await _backlog(url, "backlog", BACKLOG)
    ran = {"backlog": 0, "idle": 0}

    async def handle(d: Delivery) -> Outcome:
        ran[d.queue] += 1
        return Completed(None)

    queues = [resolve(q, {"batch_size": 10, "poll_interval": 60_000}, "postgres") for q in ran]
    consumer = backend.consume(queues, handle)
    task = asyncio.create_task(consumer.run())
    try:
        await until(lambda: ran["backlog"] >= 1000, 60, "the backlog to be under way")
        job_id = await backend.enqueue("idle", {"x": 1}, AddOptions())
        info = await backend.wait("idle", job_id, 60)
        drained_by_then = ran["backlog"]
        assert info.status is JobStatus.COMPLETED
        assert drained_by_then < BACKLOG // 2, drained_by_then
        (waiting,) = rows(
            url, "SELECT count(*) FROM {s}.job WHERE queue = 'backlog' AND state < 'active'"
        )[0]
        assert waiting > 0
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 60)
        await backend.close()


async def test_queues_sharing_one_loop_record_every_kind_of_outcome(pg_url: str) -> None:
    """Three queues in one round loop (3 connections): each round records completions,
    retries, failures with their dead-letter copies and discards of several queues, and leases
    for all of them, in one transaction."""
    url = f"{pg_url}&worker_connections=3"
    configs: dict[str, Any] = {
        "done": {},
        "retried": {"attempts": 2, "dead_letter": "dead"},
        "dropped": {},
    }
    backend = await PostgresBackend.connect(url, configs)
    ids = {
        q: await backend.enqueue_many(q, [({"n": i}, AddOptions()) for i in range(30)])
        for q in configs
    }

    async def handle(d: Delivery) -> Outcome:
        if d.queue == "done":
            return Completed({"n": d.data["n"]})
        if d.queue == "dropped":
            return Discarded("not wanted")
        if d.attempt < d.max_attempts:
            return Retry(ErrorInfo("Flaky", "again"), 0.0)
        return Failed(ErrorInfo("Flaky", "for good"), "dead")

    queues = [
        resolve(q, {"batch_size": 4, "poll_interval": 50, **c}, "postgres")
        for q, c in configs.items()
    ]
    consumer = backend.consume(queues, handle)
    task = asyncio.create_task(consumer.run())
    try:
        for queue, expected in (
            ("done", JobStatus.COMPLETED),
            ("retried", JobStatus.FAILED),
            ("dropped", JobStatus.DISCARDED),
        ):
            for job_id in ids[queue]:
                info = await backend.wait(queue, job_id, 30)
                assert info.status is expected, (queue, info)
        for n, job_id in enumerate(ids["done"]):
            assert (await backend.wait("done", job_id, 1)).result == {"n": n}
        info = await backend.wait("retried", ids["retried"][0], 1)
        assert (
            info.attempts_made == 2 and info.error is not None and info.error.message == "for good"
        )
        copies = rows(url, "SELECT id FROM {s}.job WHERE queue = 'dead'")
        assert sorted(r[0] for r in copies) == sorted(ids["retried"])
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)
        await backend.close()


async def test_clients_on_one_event_loop_share_one_connection(pg_url: str) -> None:
    url, tag = _tagged(pg_url)
    clients = [await PostgresBackend.connect(url, {}) for _ in range(5)]
    closed = 0
    try:
        ids = [await c.enqueue(f"q{i}", {"i": i}, AddOptions()) for i, c in enumerate(clients)]
        assert _held(pg_url, tag) == 1
        for i, c in enumerate(clients):  # waiting adds one LISTEN connection, for all of them
            with pytest.raises(TimeoutError):
                await c.wait(f"q{i}", ids[i], 0.05)
        assert _held(pg_url, f"qgen-wait:{parse_url(url).schema}") == 1
        assert _held(pg_url, tag) == 1
        for c in clients[:4]:
            await c.close()
            closed += 1
        assert _held(pg_url, tag) == 1  # the last one still uses it
        info = await clients[4].get("q4", ids[4])
        assert info is not None and info.status is JobStatus.WAITING
    finally:
        for c in clients[closed:]:
            await c.close()
    await until(lambda: _held(pg_url, tag) == 0, 10, "the shared connection to close")
    waiter = f"qgen-wait:{parse_url(url).schema}"
    await until(lambda: _held(pg_url, waiter) == 0, 10, "the LISTEN connection to close")

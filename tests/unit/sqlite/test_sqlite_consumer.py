"""The SQLite consumer in one process: outcomes, order, delay, retention, progress, stop."""

from __future__ import annotations

import asyncio
import json
import time

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
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.settings import QueueSettings, resolve
from tests.unit.sqlite.sqlite_helpers import rows, run_until


def q(config: dict[str, object] | None = None, name: str = "q") -> list[QueueSettings]:
    return [resolve(name, {"poll_interval": 20, **(config or {})}, "sqlite")]


async def finished(backend: SqliteBackend, queue: str, ids: list[str]) -> bool:
    for job_id in ids:
        info = await backend.get(queue, job_id)
        if info is None or not info.status.finished:
            return False
    return True


async def test_completed_with_result_and_progress(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", {"n": 2}, AddOptions())
    seen: list[Delivery] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(d)
        await d.report_progress({"step": 1})
        return Completed({"double": d.data["n"] * 2})

    await run_until(backend, q(), handle, lambda: finished(backend, "q", [job_id]))
    info = await backend.get("q", job_id)
    assert info is not None
    assert info.status is JobStatus.COMPLETED and info.result == {"double": 4}
    assert info.progress == {"step": 1} and info.attempts_made == 1
    assert info.finished_at is not None
    (d,) = seen
    assert (d.queue, d.job_id, d.attempt, d.max_attempts, d.backoff) == ("q", job_id, 1, 2, None)
    assert rows(backend, "SELECT lease, lease_until, worker IS NOT NULL FROM qgen_jobs") == [
        (None, None, 1)
    ]


async def test_retry_then_complete_after_delay(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", 1, AddOptions(backoff={"type": "fixed", "delay": 300}))
    times: list[float] = []
    attempts: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        times.append(time.monotonic())
        attempts.append(d.attempt)
        assert d.backoff == {"type": "fixed", "delay": 300}
        if d.attempt == 1:
            return Retry(ErrorInfo("Boom", "first"), 0.3)
        return Completed(None)

    await run_until(backend, q(), handle, lambda: finished(backend, "q", [job_id]))
    assert attempts == [1, 2]
    assert 0.28 <= times[1] - times[0] < 0.3 + 2.5
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.COMPLETED and info.attempts_made == 2


async def test_retry_is_reported_delayed(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", 1, AddOptions())

    async def handle(d: Delivery) -> Outcome:
        return Retry(ErrorInfo("Boom", "later"), 60)

    async def retried() -> bool:
        info = await backend.get("q", job_id)
        return info is not None and info.attempts_made == 1

    await run_until(backend, q(), handle, retried)
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.DELAYED
    assert info.error == ErrorInfo("Boom", "later")


async def test_failed_goes_to_dead_letter_in_same_transaction(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", {"bad": True}, AddOptions(job_id="j1", priority=3))

    async def handle(d: Delivery) -> Outcome:
        return Failed(ErrorInfo("PaymentFailedError", "card declined", "tb"), "dead")

    await run_until(backend, q(), handle, lambda: finished(backend, "q", [job_id]))
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.FAILED
    assert info.error == ErrorInfo("PaymentFailedError", "card declined", "tb")
    copy = await backend.get("dead", "j1")
    assert copy is not None and copy.status is JobStatus.WAITING
    assert copy.data == {"bad": True} and copy.attempts_made == 0 and copy.max_attempts == 3


async def test_discarded(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", 1, AddOptions())

    async def handle(d: Delivery) -> Outcome:
        return Discarded("not needed")

    await run_until(backend, q(), handle, lambda: finished(backend, "q", [job_id]))
    info = await backend.get("q", job_id)
    assert info is not None and info.status is JobStatus.DISCARDED
    assert info.error is not None and info.error.message == "not needed"
    assert rows(backend, "SELECT count(*) FROM qgen_jobs WHERE queue='dead'") == [(0,)]


async def test_priority_then_fifo(backend: SqliteBackend) -> None:
    for i, prio in enumerate([0, 5, 1, 5, 0, 1]):
        await backend.enqueue("q", i, AddOptions(job_id=f"j{i}", priority=prio))
    order: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        order.append(d.data)
        return Completed(None)

    ids = [f"j{i}" for i in range(6)]
    settings = q({"batch_size": 1, "prefetch": 1})
    await run_until(backend, settings, handle, lambda: finished(backend, "q", ids))
    assert order == [1, 3, 2, 5, 0, 4]


async def test_delay_is_honoured(backend: SqliteBackend) -> None:
    t0 = time.monotonic()
    late = await backend.enqueue("q", "late", AddOptions(delay=0.4))
    now = await backend.enqueue("q", "now", AddOptions())
    when: dict[str, float] = {}

    async def handle(d: Delivery) -> Outcome:
        when[d.data] = time.monotonic() - t0
        return Completed(None)

    await run_until(backend, q(), handle, lambda: finished(backend, "q", [late, now]))
    assert list(when) == ["now", "late"]  # added second, run first: the delay held "late"
    assert 0.39 <= when["late"] < 0.4 + 2.5


async def test_retention(backend: SqliteBackend) -> None:
    ids = [await backend.enqueue("q", i, AddOptions()) for i in range(6)]
    fail_ids = [await backend.enqueue("q", -i - 1, AddOptions()) for i in range(3)]

    async def handle(d: Delivery) -> Outcome:
        if d.data < 0:
            return Failed(ErrorInfo("E", "x"), None)
        return Completed(d.data)

    settings = q({"batch_size": 1, "prefetch": 1, "remove_on_complete": 2, "remove_on_fail": 1})
    gone = 0

    async def all_done() -> bool:
        left = rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='waiting'")[0][0]
        return left == 0 and not rows(backend, "SELECT 1 FROM qgen_jobs WHERE state='active'")

    await run_until(backend, settings, handle, all_done)
    kept = rows(backend, "SELECT id, state FROM qgen_jobs ORDER BY seq")
    assert kept == [(ids[4], "completed"), (ids[5], "completed"), (fail_ids[2], "failed")]
    assert gone == 0


async def test_remove_at_once(backend: SqliteBackend) -> None:
    ids = [await backend.enqueue("q", i, AddOptions()) for i in range(3)]

    async def handle(d: Delivery) -> Outcome:
        return Completed(None)

    async def empty() -> bool:
        return rows(backend, "SELECT count(*) FROM qgen_jobs")[0][0] == 0

    await run_until(backend, q({"remove_on_complete": True}), handle, empty)
    assert all([await backend.get("q", i) is None for i in ids])


async def test_stop_gives_back_unstarted_and_overdue_jobs(backend: SqliteBackend) -> None:
    ids = [await backend.enqueue("q", i, AddOptions()) for i in range(5)]
    started: list[str] = []
    forever = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        started.append(d.job_id)
        await forever.wait()
        return Completed(None)

    async def one_running() -> bool:
        held = rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='active'")[0][0]
        return len(started) == 1 and held == 5

    settings = q({"batch_size": 1, "prefetch": 5})
    t = time.monotonic()
    await run_until(backend, settings, handle, one_running, grace=0.3)
    assert time.monotonic() - t < 20  # the 0.3 s grace, not the job that never ends
    assert started == [ids[0]]
    assert (
        rows(backend, "SELECT state, attempts_made, lease FROM qgen_jobs")
        == [("waiting", 0, None)] * 5
    )


async def test_stop_lets_running_jobs_finish(backend: SqliteBackend) -> None:
    ids = [await backend.enqueue("q", i, AddOptions()) for i in range(3)]
    started = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        started.set()
        await asyncio.sleep(0.3)
        return Completed("ok")

    async def running() -> bool:
        return started.is_set()

    await run_until(backend, q({"batch_size": 3}), handle, running, grace=5)
    for job_id in ids:
        info = await backend.get("q", job_id)
        assert info is not None and info.status is JobStatus.COMPLETED


async def test_heartbeat_keeps_long_job_leased(url: str) -> None:
    """A job running past visibility_timeout keeps its lease; a second consumer on the same
    file never takes it."""
    a = await SqliteBackend.connect(url, {"q": {}})
    b = await SqliteBackend.connect(url, {"q": {}})
    job_id = await a.enqueue("q", 1, AddOptions())
    runs: list[str] = []

    async def slow(d: Delivery) -> Outcome:
        runs.append("a")
        await asyncio.sleep(2.5)
        return Completed(None)

    async def other(d: Delivery) -> Outcome:
        runs.append("b")
        return Completed(None)

    settings = q({"visibility_timeout": 1})
    ca = a.consume(settings, slow)
    ta = asyncio.create_task(ca.run())
    while not runs:
        await asyncio.sleep(0.01)
    cb = b.consume(settings, other)
    tb = asyncio.create_task(cb.run())
    while not await finished(a, "q", [job_id]):
        await asyncio.sleep(0.05)
    await ca.stop(1)
    await cb.stop(1)
    await asyncio.gather(ta, tb)
    assert runs == ["a"]
    assert rows(a, "SELECT stalled FROM qgen_jobs") == [(0,)]
    await a.close()
    await b.close()


async def test_many_jobs_each_once(backend: SqliteBackend) -> None:
    ids = await backend.enqueue_many("q", [(i, AddOptions()) for i in range(2000)])
    seen: dict[str, int] = {}

    async def handle(d: Delivery) -> Outcome:
        seen[d.job_id] = seen.get(d.job_id, 0) + 1
        return Completed(d.data)

    async def all_done() -> bool:
        return len(seen) == 2000 and not rows(
            backend, "SELECT 1 FROM qgen_jobs WHERE state != 'completed' LIMIT 1"
        )

    settings = q({"batch_size": 10, "remove_on_complete": False})  # keep every result
    await run_until(backend, settings, handle, all_done)
    assert set(seen) == set(ids) and set(seen.values()) == {1}
    results = rows(backend, "SELECT result FROM qgen_jobs ORDER BY seq")
    assert [json.loads(r[0]) for r in results] == list(range(2000))


async def test_idle_worker_sees_adds_from_another_connection(url: str) -> None:
    """An add on another connection (as from another process) is picked up within about one
    poll_interval; wait() returns the finished job."""
    worker = await SqliteBackend.connect(url, {"q": {}})
    producer = await SqliteBackend.connect(url, {"q": {}})
    seen: list[float] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(time.monotonic())
        return Completed({"echo": d.data})

    consumer = worker.consume(q({"poll_interval": 50}), handle)
    task = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.3)  # the worker is idle, polling
    t0 = time.monotonic()
    job_id = await producer.enqueue("q", "hi", AddOptions())
    info = await producer.wait("q", job_id, 30)
    assert info.status is JobStatus.COMPLETED and info.result == {"echo": "hi"}
    assert seen and seen[0] - t0 < 10
    await consumer.stop(1)
    await task
    await worker.close()
    await producer.close()


async def test_progress_is_visible_while_running(backend: SqliteBackend) -> None:
    job_id = await backend.enqueue("q", 1, AddOptions())
    release = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        await d.report_progress(33)
        await release.wait()
        return Completed(None)

    async def reported() -> bool:
        info = await backend.get("q", job_id)
        if info is not None and info.progress == 33:
            assert info.status is JobStatus.ACTIVE
            release.set()
            return True
        return False

    await run_until(backend, q(), handle, reported)

"""The operator API, acting (issue 14): cancel (waiting, delayed, running async and sync, running
under a long lease, finished), retry, pause and resume, clean, redrive with a payload the schema
now refuses, and retention by age. "Never runs again" is checked once the job is final (its
status), not after a sleep; the pause case alone must watch for a while that nothing starts."""

from __future__ import annotations

import asyncio

import pytest
from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import BackendCase, eventually, settled, worker
from support import contract_project
from support.ops_pending import operation

from qgen import ConfigError, JobFailedError, JobNotFound, JobStatus
from qgen.runtime.backends.base import AddOptions, Backend, Completed, Delivery
from qgen.runtime.capabilities import Feature
from qgen.runtime.manifest import load_manifest
from qgen.runtime.settings import resolve


def _ran(queue: str) -> list[str]:
    return [job_id for job_id, *_ in jobs.SEEN[queue]]


async def test_cancelled_waiting_and_delayed_jobs_never_start(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.CANCEL, Feature.STATUS)
    async with backend.client() as client:
        waiting = await client.work.add(Task(n=1), job_id="w")
        delayed = await client.work.add(Task(n=2), job_id="d", delay=60)
        assert await waiting.cancel() is True
        assert await delayed.cancel() is True
        assert await waiting.status() is JobStatus.CANCELLED
        assert await delayed.status() is JobStatus.CANCELLED
        assert await waiting.cancel() is False  # finished now
        async with worker(backend, ["work"]) as task:
            later = await client.work.add(Task(n=3), job_id="later")
            await settled(backend, "work", [later], worker_task=task)
        assert _ran("work") == ["later"]
        assert await waiting.status() is JobStatus.CANCELLED
        with pytest.raises(JobFailedError) as err:
            await waiting.result(timeout=5)
        assert err.value.cancelled


async def test_cancelling_a_running_async_job_cancels_its_task_once_for_good(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.CANCEL, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["cancellable"]) as task:
        handle = await client.cancellable.add(Task(n=1), job_id="long")
        await eventually(lambda: _events("long"), lambda e: e == ["start 1"], worker_task=task)
        assert await handle.status() is JobStatus.ACTIVE
        assert await handle.cancel() is True
        await settled(backend, "cancellable", [handle], worker_task=task)
        assert await handle.status() is JobStatus.CANCELLED
        assert jobs.EVENTS["long"] == ["start 1", "cancelled flag=True"]  # no second attempt
        with pytest.raises(JobNotFound):  # the queue has a dead_letter: no copy went there
            await client.graveyard.get("long").info()


async def test_a_running_sync_job_sees_the_cancel_flag(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.CANCEL, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["cancellable-sync"]) as task:
        handle = await client.cancellable_sync.add(Task(n=1), job_id="sync")
        await eventually(lambda: _events("sync"), lambda e: e == ["start 1"], worker_task=task)
        assert await handle.cancel() is True
        await settled(backend, "cancellable-sync", [handle], worker_task=task)
        assert await handle.status() is JobStatus.CANCELLED
        assert jobs.EVENTS["sync"] == ["start 1", "saw the flag"]


async def test_a_cancel_reaches_a_running_job_long_before_its_lease_renewal(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    """The queue's lease is 60 s, so the worker's next renewal is at least 20 s away: a job
    that sees the cancel within 5 s was told by a push (or the one poll read), not a renewal."""
    operation(backend, request, Feature.CANCEL, Feature.CANCEL_PUSH, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["cancellable-long"]) as task:
        handle = await client.cancellable_long.add(Task(n=1), job_id="pushed")
        await eventually(lambda: _events("pushed"), lambda e: e == ["start 1"], worker_task=task)
        assert await handle.cancel() is True
        await eventually(
            lambda: _events("pushed"),
            lambda e: len(e) > 1,
            timeout=5.0,
            worker_task=task,
            what="the running job to see the cancel",
        )
        assert jobs.EVENTS["pushed"] == ["start 1", "cancelled flag=True"]
        await settled(backend, "cancellable-long", [handle], worker_task=task, timeout=10)
        assert await handle.status() is JobStatus.CANCELLED


async def _events(job_id: str) -> list[str]:
    return list(jobs.EVENTS[job_id])


async def test_cancel_of_a_finished_job_is_false(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.CANCEL, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["work"]) as task:
        handle = await client.work.add(Task(n=1))
        await settled(backend, "work", [handle], worker_task=task)
        assert await handle.cancel() is False
        assert await handle.status() is JobStatus.COMPLETED


async def test_retry_runs_a_failed_job_again_with_fresh_attempts(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.RETRY, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.retry.add(Task(n=1, mode="boom"), job_id="again")
        await settled(backend, "retry", [handle], worker_task=task)
        assert await handle.status() is JobStatus.FAILED
        assert await handle.retry() is True
        await eventually(lambda: _count("retry"), lambda n: n == 6, worker_task=task)
        await settled(backend, "retry", [handle], worker_task=task)
        assert [attempt for _, attempt, *_ in jobs.SEEN["retry"]] == [1, 2, 3, 1, 2, 3]
        info = await handle.info()
        assert (info.status, info.attempts_made) == (JobStatus.FAILED, 3)
        ok = await client.retry.add(Task(n=2))
        await settled(backend, "retry", [ok], worker_task=task)
        assert await ok.retry() is False  # completed: nothing to retry


async def _count(queue: str) -> int:
    return len(jobs.SEEN[queue])


async def test_retry_failed_moves_every_failed_job_back(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.RETRY, Feature.STATUS)
    async with backend.client() as client:
        async with worker(backend, ["work"]) as task:
            failed = [await client.work.add(Task(n=n, mode="boom")) for n in range(3)]
            ok = await client.work.add(Task(n=9))
            await settled(backend, "work", [*failed, ok], worker_task=task)
        assert await client.work.retry_failed(limit=2) == 2
        assert await client.work.retry_failed() == 1
        assert await client.work.retry_failed() == 0
        for handle in failed:
            info = await handle.info()
            assert (info.status, info.attempts_made) == (JobStatus.WAITING, 0)
        assert await ok.status() is JobStatus.COMPLETED


async def test_pause_stops_new_jobs_until_resume_and_loses_none(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.PAUSE)
    jobs.GATES["hold"] = asyncio.Event()
    async with backend.client() as client, worker(backend, ["work"]) as task:
        q = client.work
        running = await q.add(Task(n=0, gate="hold"), job_id="running")
        await eventually(lambda: _started(running.id), bool, worker_task=task)
        await q.pause()
        assert await q.is_paused() is True
        # A poll already in flight may still deliver (SQS: a long poll of up to drain_delay,
        # 1 s here); after it, every worker has seen the pause.
        await asyncio.sleep(2.0)
        added = [await q.add(Task(n=n), job_id=f"p{n}") for n in range(1, 4)]  # adds still work
        jobs.GATES["hold"].set()  # the running job finishes while paused
        await eventually(lambda: _count("work"), lambda n: n == 1, worker_task=task)
        await asyncio.sleep(1.5)
        assert _ran("work") == ["running"]  # nothing new started while paused
        await q.resume()
        assert await q.is_paused() is False
        await settled(backend, "work", added, worker_task=task)
        await eventually(lambda: _count("work"), lambda n: n == 4, worker_task=task)
        assert sorted(_ran("work")) == ["p1", "p2", "p3", "running"]


async def _started(job_id: str) -> bool:
    return job_id in jobs.STARTED


async def test_clean_deletes_finished_jobs_by_status_age_and_keep(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.CLEAN, Feature.STATUS)
    async with backend.client() as client:
        async with worker(backend, ["work"]) as task:
            done = []
            for n in range(3):  # one at a time: distinct finish times, oldest first
                done.append(await client.work.add(Task(n=n), job_id=f"c{n}"))
                await settled(backend, "work", done[-1:], worker_task=task)
            failed = await client.work.add(Task(n=9, mode="boom"), job_id="f")
            await settled(backend, "work", [failed], worker_task=task)
        waiting = await client.work.add(Task(n=10), job_id="w")
        assert await client.work.clean(JobStatus.COMPLETED, older_than=3600) == 0
        assert await client.work.clean("completed", keep=1) == 2
        for handle in done[:2]:
            with pytest.raises(JobNotFound):
                await handle.info()
        assert await done[2].status() is JobStatus.COMPLETED
        assert await client.work.clean("failed") == 1
        assert await waiting.status() is JobStatus.WAITING
        with pytest.raises(ConfigError, match="finished status"):
            await client.work.clean("waiting")


async def test_redrive_moves_valid_dead_letters_and_keeps_invalid_ones(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.REDRIVE)
    async with backend.client() as client:
        async with worker(backend, ["doomed"]) as task:
            good = await client.doomed.add(Task(n=1, mode="boom"), job_id="good")
            raw = await client._connect()  # a payload the queue's schema refuses now
            await raw.enqueue("doomed", {"n": "one"}, AddOptions(job_id="stale"))
            await eventually(lambda: _count("doomed"), lambda n: n >= 2, worker_task=task)
            stale = client.doomed.get("stale")  # fails at once, without running: no SEEN
            await settled(backend, "doomed", [good, stale], worker_task=task)
        # every report lists moved and kept jobs alike: under the id they were added with
        dry = await client.doomed.redrive(dry_run=True)
        assert dry.dry_run and (dry.moved, _ids(dry.kept)) == (["good"], ["stale"])
        assert "valid integer" in dry.kept[0][1]
        report = await client.doomed.redrive()
        assert not report.dry_run
        assert (report.moved, _ids(report.kept)) == (["good"], ["stale"])
        again = await client.doomed.redrive()
        assert (again.moved, _ids(again.kept)) == ([], ["stale"])  # the stale one stays
        before = await _count("doomed")
        async with worker(backend, ["doomed"]) as task:  # the moved job runs again
            await eventually(lambda: _count("doomed"), lambda n: n > before, worker_task=task)
        assert jobs.SEEN["doomed"][-1][2].n == 1


def _ids(kept: list[tuple[str, str]]) -> list[str]:
    return [job_id for job_id, _ in kept]


# A producer span's W3C trace context, as issue 17 stores it with a job.
TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}


async def test_a_redriven_job_keeps_its_trace_context(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.REDRIVE)
    async with backend.client() as client:
        raw = await client._connect()
        async with worker(backend, ["doomed"]) as task:
            options = AddOptions(job_id="traced", meta=TRACE)
            await raw.enqueue("doomed", {"n": 7, "mode": "boom"}, options)
            await eventually(lambda: _count("doomed"), lambda n: n == 2, worker_task=task)
            await settled(backend, "doomed", [client.doomed.get("traced")], worker_task=task)
        if backend.supports(Feature.CLEAN):  # the original is gone: only the copy has it
            assert await client.doomed.clean("failed") == 1
        report = await client.doomed.redrive()
        assert len(report.moved) == 1 and not report.kept
        delivery = await _next_delivery(backend, raw, "doomed")
    assert delivery.data == {"n": 7, "mode": "boom"}
    assert delivery.meta == TRACE  # the next attempt continues the producer's trace


async def _next_delivery(backend: BackendCase, raw: Backend, queue: str) -> Delivery:
    """The next job of ``queue`` as the backend hands it to a worker (completed at once)."""
    config = load_manifest(contract_project.MANIFEST).queues[queue].config
    got: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()

    async def handle(delivery: Delivery) -> Completed:
        if not got.done():
            got.set_result(delivery)
        return Completed(None)

    consumer = raw.consume([resolve(queue, config, backend.name)], handle)
    running = asyncio.create_task(consumer.run())
    try:
        return await asyncio.wait_for(asyncio.shield(got), 30)
    finally:
        await consumer.stop(5)
        await running


async def test_finished_jobs_are_removed_by_age(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.RETENTION_AGE, Feature.STATUS)
    async with backend.client() as client, worker(backend, ["short-lived"]) as task:
        q = client.short_lived
        old = [await q.add(Task(n=1), job_id="old-ok"), await q.add(Task(n=2, mode="boom"))]
        await settled(backend, "short-lived", old, worker_task=task)
        await asyncio.sleep(1.5)  # past the queue's age of 1 s
        new = [await q.add(Task(n=3), job_id="new-ok"), await q.add(Task(n=4, mode="boom"))]
        await settled(backend, "short-lived", new, worker_task=task)
        for handle in old:  # gone once a later job of the queue finished
            await eventually(_gone(handle), bool, worker_task=task)
        for handle in new:
            assert (await handle.status()).finished


def _gone(handle: object) -> object:
    async def probe() -> bool:
        try:
            await handle.info()  # type: ignore[attr-defined]
        except JobNotFound:
            return True
        return False

    return probe

"""The operator API, reading (issue 14): counts, typed job lists with stable paging, job
details, dead-letter sources, workers, and what a backend cannot do. Every case runs on every
backend; a backend that cannot do an operation is skipped by the capability table (and must
then refuse it with the table's reason: the last case)."""

from __future__ import annotations

import os

import pytest
from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import (
    BackendCase,
    as_json,
    eventually,
    generated_models,
    settled,
    worker,
)
from support.ops_pending import operation

from qgen import JobStatus, JobTimeout, UnsupportedByBackend, ValidationFailed
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.capabilities import Feature, feature


async def test_counts_per_status(backend: BackendCase, request: pytest.FixtureRequest) -> None:
    operation(backend, request, Feature.COUNTS)
    async with backend.client() as client:
        q = client.work
        async with worker(backend, ["work"]) as task:
            done = [await q.add(Task(n=n)) for n in (1, 2)]
            boom = await q.add(Task(n=3, mode="boom"))
            await eventually(lambda: _runs("work"), lambda n: n >= 3, worker_task=task)
            await settled(backend, "work", [*done, boom], worker_task=task)
        await q.add(Task(n=4))
        await q.add(Task(n=5))
        await q.add(Task(n=6), delay=60)
        counts = await eventually(q.counts, lambda c: c.waiting == 2 and c.delayed == 1)
        assert (counts.active, counts.paused) == (0, False)
        assert counts.approximate == (backend.name == "sqs")
        for status, expected in (("completed", 2), ("failed", 1)):
            if status in counts.unknown:
                assert getattr(counts, status) == 0
            else:
                assert getattr(counts, status) == expected, counts
        assert (counts.discarded, counts.cancelled) == (0, 0)


async def _runs(queue: str) -> int:
    return len(jobs.SEEN[queue])


async def test_job_list_is_typed_newest_first_and_pages_stably(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.LIST_JOBS)
    models = generated_models()
    async with backend.client() as client:
        q = client.work
        for n in range(5):
            await q.add(Task(n=n), job_id=f"job-{n}")
        first = await q.jobs(status=JobStatus.WAITING, limit=2)
        assert [v.id for v in first.jobs] == ["job-4", "job-3"]
        assert first.next_cursor is not None
        view = first.jobs[0]
        assert isinstance(view.data, models.Task) and view.data.n == 4
        assert (view.status, view.queue, view.data_error) == (JobStatus.WAITING, "work", None)
        assert view.created_at is not None
        await q.add(Task(n=5), job_id="job-5")  # newer than every listed job: not on page 2
        second = await q.jobs(status="waiting", limit=2, cursor=first.next_cursor)
        assert [v.id for v in second.jobs] == ["job-2", "job-1"]
        third = await q.jobs(status="waiting", limit=2, cursor=second.next_cursor)
        assert [v.id for v in third.jobs] == ["job-0"]
        assert third.next_cursor is None
        assert (await q.jobs(status="failed")).jobs == []


async def test_listing_survives_data_that_no_longer_validates(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.LIST_JOBS)
    async with backend.client() as client:
        await client.work.add(Task(n=1), job_id="good")
        raw = await client._connect()  # another producer: no client-side validation
        await raw.enqueue("work", {"n": "not a number"}, AddOptions(job_id="bad"))
        page = await client.work.jobs(status="waiting")
        by_id = {v.id: v for v in page.jobs}
        assert set(by_id) == {"good", "bad"}
        assert by_id["good"].data.n == 1
        bad = by_id["bad"]
        assert bad.raw_data == {"n": "not a number"}
        assert bad.data_error is not None and "n" in bad.data_error
        with pytest.raises(ValidationFailed):
            _ = bad.data


async def test_finished_jobs_show_times_worker_and_typed_result(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.LIST_JOBS)
    async with backend.client() as client, worker(backend, ["cancellable"]) as task:
        handle = await client.cancellable.add(Task(n=9, sleep=0.05), job_id="done", priority=3)
        await settled(backend, "cancellable", [handle], worker_task=task)
        info = await handle.info()
        assert info.status is JobStatus.COMPLETED
        assert info.worker == "canceller"  # the queue config's name
        assert info.created_at is not None and info.started_at is not None
        assert info.finished_at is not None
        assert info.created_at <= info.started_at <= info.finished_at
        assert info.priority == 3
        page = await client.cancellable.jobs(status=JobStatus.COMPLETED)
        (view,) = page.jobs
        assert view.id == "done" and as_json(view.result) == {"n": 9, "attempt": 1}


async def test_dead_letter_copies_name_their_source(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.LIST_JOBS)
    async with backend.client() as client:
        async with worker(backend, ["doomed"]) as task:
            handle = await client.doomed.add(Task(n=1, mode="boom"), job_id="lost")
            await settled(backend, "doomed", [handle], worker_task=task)
        page = await eventually(
            lambda: client.graveyard.jobs(status="waiting"), lambda p: len(p.jobs) == 1
        )
        (copy,) = page.jobs
        assert copy.dead_letter_of == "doomed"
        assert copy.data.n == 1
        assert (await client.doomed.jobs(status="failed")).jobs[0].dead_letter_of is None


async def test_workers_lists_running_workers(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.WORKERS)
    async with backend.client() as client:
        async with worker(backend, ["cancellable", "work"]) as task:
            found = await eventually(
                client.workers,
                lambda ws: any(w.pid == os.getpid() for w in ws),
                worker_task=task,
            )
            (me,) = [w for w in found if w.pid == os.getpid()]
            assert me.name == "canceller" and me.backend == backend.name
            assert set(me.queues) == {"cancellable", "work"}
            assert me.started_at <= me.last_seen
            assert [w.pid for w in await client.workers("work")] == [os.getpid()]
            assert await client.workers("retry") == []
        assert await client.workers() == []  # a clean stop unregisters at once


async def test_result_timeout_says_no_worker_was_seen(
    backend: BackendCase, request: pytest.FixtureRequest
) -> None:
    operation(backend, request, Feature.WORKERS)
    backend.require(Feature.RESULTS)
    async with backend.client() as client:
        handle = await client.work.add(Task(n=1))
        async with worker(backend, ["retry"]):  # a worker, but of another queue
            with pytest.raises(JobTimeout) as err:
                await handle.result(timeout=0.3)
        assert err.value.workers_seen == 0
        assert "no worker of queue 'work' was seen" in str(err.value)


OPERATOR_CALLS = {
    Feature.COUNTS: lambda c: c.work.counts(),
    Feature.LIST_JOBS: lambda c: c.work.jobs(status="waiting"),
    Feature.CANCEL: lambda c: c.work.get("some-id").cancel(),
    Feature.RETRY: lambda c: c.work.get("some-id").retry(),
    Feature.PAUSE: lambda c: c.work.pause(),
    Feature.CLEAN: lambda c: c.work.clean("completed"),
    Feature.REDRIVE: lambda c: c.doomed.redrive(),
    Feature.WORKERS: lambda c: c.workers(),
}


@pytest.mark.parametrize("feat", list(OPERATOR_CALLS), ids=lambda f: f.value)
async def test_unsupported_operations_say_why(backend: BackendCase, feat: Feature) -> None:
    support = feature(feat, backend.name)
    if support.supported:
        pytest.skip(f"{backend.name} supports {feat.value}")
    async with backend.client() as client:
        with pytest.raises(UnsupportedByBackend) as err:
            await OPERATOR_CALLS[feat](client)
        assert support.note in str(err.value)
        assert err.value.reason == support.note

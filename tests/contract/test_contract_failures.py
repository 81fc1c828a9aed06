"""Retries with backoff, failure, dead letters, fail(), discard(), bad input and timeouts."""

from __future__ import annotations

import asyncio

import pytest
from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import BackendCase, eventually, worker

from qgen import JobFailedError, JobStatus
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.capabilities import Feature, Level, feature

BACKOFF = 0.3  # the "retry" queue: 3 attempts, fixed 300 ms backoff


async def _runs(queue: str) -> int:
    return len(jobs.SEEN[queue])


async def test_exception_is_retried_with_backoff_then_fails(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=7, mode="boom"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 3, worker_task=task)
        await asyncio.sleep(BACKOFF + backend.time_slack)  # a fourth attempt would show now
        runs = jobs.SEEN["retry"]
        assert [attempt for _, attempt, _, _, _ in runs] == [1, 2, 3]
        starts = [start for _, _, _, start, _ in runs]
        ends = [end for _, _, _, _, end in runs]
        for end, nxt in zip(ends, starts[1:], strict=False):
            gap = nxt - end
            assert backend.earliest_start(BACKOFF) <= gap <= backend.latest_start(BACKOFF), gap
        if backend.supports(Feature.STATUS):
            info = await eventually(handle.info, lambda i: i.status.finished, worker_task=task)
            assert info.status is JobStatus.FAILED
            assert info.error is not None
            assert (info.error.type, info.error.message) == ("BoomError", "boom 7")
            assert info.error.traceback is None or "BoomError" in info.error.traceback
            assert info.attempts_made == 3
        if backend.supports(Feature.RESULTS):
            with pytest.raises(JobFailedError) as err:
                await handle.result(timeout=5)
            assert (err.value.error_type, err.value.error_message) == ("BoomError", "boom 7")
            assert not err.value.discarded


async def test_job_backoff_option_overrides_the_queue(backend: BackendCase) -> None:
    backend.require(Feature.SUBSECOND_DELAY)
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        await client.add(
            "retry", Task(n=1, mode="boom"), attempts=2, backoff={"type": "fixed", "delay": 800}
        )
        await eventually(lambda: _runs("retry"), lambda n: n >= 2, worker_task=task)
        await asyncio.sleep(1.0)
        runs = jobs.SEEN["retry"]
        assert len(runs) == 2  # attempts=2 from the add, not the queue's 3
        gap = runs[1][3] - runs[0][4]
        assert 0.75 <= gap <= 0.8 + backend.time_slack


async def test_fail_retries_then_fails(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=3, mode="fail"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 3, worker_task=task)
        if backend.supports(Feature.STATUS):
            info = await eventually(handle.info, lambda i: i.status.finished, worker_task=task)
            assert info.status is JobStatus.FAILED
            assert info.error is not None
            assert (info.error.type, info.error.message) == ("QueueJobFailed", "failing 3")
        await asyncio.sleep(BACKOFF + backend.time_slack)
        assert len(jobs.SEEN["retry"]) == 3


async def test_discard_ends_the_job_without_retry(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=2, mode="discard"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 1, worker_task=task)
        native = feature(Feature.DISCARD, backend.name).level is Level.NATIVE
        if backend.supports(Feature.STATUS):
            info = await eventually(handle.info, lambda i: i.status.finished, worker_task=task)
            # emulated discard may be reported as failed (the table says so); native: discarded
            allowed = {JobStatus.DISCARDED} if native else {JobStatus.DISCARDED, JobStatus.FAILED}
            assert info.status in allowed
            assert info.attempts_made == 1
        if backend.supports(Feature.RESULTS):
            with pytest.raises(JobFailedError) as err:
                await handle.result(timeout=5)
            if native:
                assert err.value.discarded
        await asyncio.sleep(BACKOFF + backend.time_slack)  # a retry would have run by now
        assert len(jobs.SEEN["retry"]) == 1


async def test_failed_job_is_copied_to_the_dead_letter_queue(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["doomed", "graveyard"]) as task:
        handle = await client.add("doomed", Task(n=42, mode="boom"))
        await eventually(lambda: _runs("graveyard"), lambda n: n >= 1, worker_task=task)
        assert len(jobs.SEEN["doomed"]) == 2  # attempts=2 on the doomed queue
        assert [d for _, _, d, _, _ in jobs.SEEN["graveyard"]] == [Task(n=42, mode="boom")]
        if backend.supports(Feature.STATUS):
            info = await handle.info()
            assert info.status is JobStatus.FAILED


async def test_invalid_data_fails_at_once_without_retry(backend: BackendCase) -> None:
    backend.require(Feature.STATUS)
    async with backend.client() as client:
        raw = await client._connect()  # the client refuses bad data: go around it
        job_id = await raw.enqueue("retry", {"n": "not a number"}, AddOptions())
        async with worker(backend, ["retry"]) as task:
            handle = client.queue("retry").get(job_id)
            info = await eventually(handle.info, lambda i: i.status.finished, worker_task=task)
            assert info.status is JobStatus.FAILED
            assert info.error is not None and info.error.type == "ValidationFailed"
            assert "n" in info.error.message
            assert info.attempts_made == 1
            await asyncio.sleep(BACKOFF + backend.time_slack)
        assert jobs.SEEN["retry"] == []  # the function never ran
        assert (await handle.info()).status is JobStatus.FAILED


async def test_timeout_fails_the_attempt(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["timeout"]) as task:
        handle = await client.add("timeout", Task(n=1, sleep=5))
        await eventually(lambda: _runs("timeout"), lambda n: n >= 1, worker_task=task, timeout=4)
        assert jobs.SEEN["timeout"][0][4] - jobs.SEEN["timeout"][0][3] < 1.0
        if backend.supports(Feature.STATUS):
            info = await eventually(handle.info, lambda i: i.status.finished, worker_task=task)
            assert info.status is JobStatus.FAILED
            assert info.error is not None and info.error.type == "JobTimeout"


async def test_status_is_delayed_during_retry_backoff(backend: BackendCase) -> None:
    backend.require(Feature.STATUS)
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=5, mode="boom"))
        seen: list[JobStatus] = []

        async def status() -> JobStatus:
            s = await handle.status()
            if not seen or seen[-1] is not s:
                seen.append(s)
            return s

        await eventually(status, lambda s: s.finished, worker_task=task, timeout=15)
        assert JobStatus.DELAYED in seen, seen  # between the attempts
        assert seen[-1] is JobStatus.FAILED, seen
        assert JobStatus.COMPLETED not in seen, seen

"""Results, status, job ids, delay, priority and progress."""

from __future__ import annotations

import asyncio
import time

from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import BackendCase, as_json, eventually, generated_models, worker

from qgen import JobStatus
from qgen.runtime.capabilities import Feature


async def test_typed_result_and_status_transitions(backend: BackendCase) -> None:
    backend.require(Feature.STATUS, Feature.RESULTS)
    jobs.GATES["hold"] = gate = asyncio.Event()
    async with backend.client() as client:
        handle = await client.queue("work").add(Task(n=4, gate="hold"))
        assert await handle.status() is JobStatus.WAITING
        async with worker(backend, ["work"]) as task:
            await eventually(handle.status, lambda s: s is JobStatus.ACTIVE, worker_task=task)
            gate.set()
            result = await handle.result(timeout=30)
            assert isinstance(result, generated_models().WorkOutput)
            assert as_json(result) == {"n": 4, "attempt": 1}
            info = await handle.info()
            assert info.status is JobStatus.COMPLETED
            assert info.result == {"n": 4, "attempt": 1}
            assert info.error is None
            assert info.attempts_made == 1


async def test_queue_without_result(backend: BackendCase) -> None:
    backend.require(Feature.RESULTS)
    async with backend.client() as client:
        handle = await client.add("notify", {"n": 1})
        async with worker(backend, ["notify"]):
            assert await handle.result(timeout=30) is None
        assert len(jobs.SEEN["notify"]) == 1


async def test_same_job_id_makes_one_job(backend: BackendCase) -> None:
    backend.require(Feature.JOB_ID)
    async with backend.client() as client:
        first = await client.add("priority", Task(n=1), job_id="order-1")
        second = await client.add("priority", Task(n=2), job_id="order-1")
        assert first.id == second.id == "order-1"
        # "priority" runs one job at a time in order of addition: a second job with that id
        # would run before this marker does.
        await client.add("priority", Task(n=3))
        async with worker(backend, ["priority"]) as task:
            await eventually(
                lambda: _ran("priority"), lambda ns: 3 in ns, worker_task=task, what="the marker"
            )
        assert _ran_now("priority") == [1, 3]
        if backend.supports(Feature.RESULTS):
            assert as_json(await second.result(timeout=30)) == {"n": 1, "attempt": 1}


async def _ran(queue: str) -> list[int]:
    return _ran_now(queue)


def _ran_now(queue: str) -> list[int]:
    return [data.n for _, _, data, _, _ in jobs.SEEN[queue]]


async def _count(queue: str) -> int:
    return len(jobs.SEEN[queue])


async def test_delay(backend: BackendCase) -> None:
    backend.require(Feature.DELAY)
    delay = 0.6 if backend.supports(Feature.SUBSECOND_DELAY) else 1.5
    async with backend.client() as client, worker(backend, ["work"]) as task:
        await client.add("work", Task(n=0))  # time from a worker that is up and polling
        await eventually(lambda: _count("work"), lambda n: n == 1, worker_task=task)
        added = time.monotonic()
        handle = await client.add("work", Task(n=9), delay=delay)
        if backend.supports(Feature.STATUS):
            assert await handle.status() is JobStatus.DELAYED
        await eventually(
            lambda: _count("work"), lambda n: n == 2, worker_task=task, what="the delayed job"
        )
        started = jobs.SEEN["work"][1][3]
        assert backend.earliest(delay) <= started - added <= backend.latest(delay)


async def test_priority_order(backend: BackendCase) -> None:
    backend.require(Feature.PRIORITY)
    priorities = [0, 5, 1, 9, 3, 5]
    async with backend.client() as client:
        for i, p in enumerate(priorities):
            await client.add("priority", Task(n=i), priority=p)
        async with worker(backend, ["priority"]) as task:
            await eventually(
                lambda: _count("priority"),
                lambda n: n == len(priorities),
                worker_task=task,
                what="all jobs",
            )
    ran = [priorities[data.n] for _, _, data, _, _ in jobs.SEEN["priority"]]
    assert ran == sorted(priorities, reverse=True)
    # equal priorities keep their order of addition
    fives = [data.n for _, _, data, _, _ in jobs.SEEN["priority"] if priorities[data.n] == 5]
    assert fives == [1, 5]


async def test_progress(backend: BackendCase) -> None:
    backend.require(Feature.PROGRESS)
    jobs.GATES["hold"] = gate = asyncio.Event()
    async with backend.client() as client:
        handle = await client.add("work", Task(n=1, mode="progress", gate="hold"))
        assert await handle.progress() is None
        async with worker(backend, ["work"]) as task:
            progress = await eventually(
                handle.progress, lambda p: p == {"step": 2, "of": 3}, worker_task=task
            )
            assert progress == {"step": 2, "of": 3}
            gate.set()
            if backend.supports(Feature.RESULTS):
                await handle.result(timeout=30)
                assert await handle.progress() == {"step": 2, "of": 3}

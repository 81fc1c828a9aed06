"""Sync functions, middleware and services, two workers, graceful shutdown."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from contract_app import jobs, services
from contract_app.jobs import Task
from contract_harness import (
    BackendCase,
    as_json,
    eventually,
    output_of,
    settled,
    worker,
    worker_process,
)

from qgen import JobFailedError, JobStatus
from qgen.runtime.capabilities import Feature


async def _runs(queue: str) -> int:
    return len(jobs.SEEN[queue])


async def test_sync_function_runs_in_a_thread(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["blocking"]) as task:
        ok = await client.add("blocking", Task(n=3, sleep=0.05))
        bad = await client.add("blocking", Task(n=4, mode="boom"))
        await eventually(lambda: _runs("blocking"), lambda n: n >= 2, worker_task=task)
        if backend.supports(Feature.RESULTS):
            assert as_json(await ok.result(timeout=30)) == {"n": 3, "attempt": 1}
            with pytest.raises(JobFailedError) as err:
                await bad.result(timeout=30)
            assert err.value.error_type == "BoomError"
        if backend.supports(Feature.PROGRESS):
            progress = await ok.progress()
            assert isinstance(progress, dict)
            assert str(progress["thread"]).startswith("qgen-blocking")


async def test_middleware_order_and_services(backend: BackendCase) -> None:
    created = len(services.CREATED)
    async with backend.client() as client:
        async with worker(backend, ["mw"]) as task:
            handle = await client.add("mw", Task())
            svc = await eventually(
                lambda: _latest_services(created),
                lambda s: s is not None and len(s.calls) >= 5,
                worker_task=task,
            )
            assert svc is not None
            assert [name for name, _ in svc.calls] == [
                "outer-before",
                "inner-before",
                "call",
                "inner-after",
                "outer-after",
            ]
            assert {job_id for _, job_id in svc.calls} == {handle.id}
            if backend.supports(Feature.RESULTS):
                result = await handle.result(timeout=30)
                assert as_json(result) == {"n": svc.created, "attempt": 1}
        assert len(services.CREATED) == created + 1  # once per worker
        assert services.CLOSED[-1] is svc  # and closed when it stopped


async def _latest_services(created: int) -> services.Services | None:
    return services.CREATED[-1] if len(services.CREATED) > created else None


async def test_two_workers_never_run_the_same_job_at_once(backend: BackendCase) -> None:
    n = 40
    async with (
        backend.client() as client,
        worker(backend, ["exclusive"]) as one,
        worker(backend, ["exclusive"]) as two,
    ):
        await client.queue("exclusive").add_many([Task(n=i, sleep=0.05) for i in range(n)])
        await eventually(
            lambda: _distinct("exclusive"),
            lambda k: k == n,
            worker_task=one,
            timeout=30,
            what=f"{n} jobs",
        )
        assert not two.done()
    runs = jobs.SEEN["exclusive"]
    by_job: dict[str, list[tuple[float, float]]] = {}
    for job_id, _, _, start, end in runs:
        by_job.setdefault(job_id, []).append((start, end))
    for job_id, spans in by_job.items():
        spans.sort()
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"job {job_id} ran twice at once: {spans}"
    duplicates = sum(c - 1 for c in Counter(j for j, *_ in runs).values())
    print(f"{backend.name}: {len(runs)} runs of {n} jobs, {duplicates} duplicate(s)")
    assert sorted(d.n for _, _, d, _, _ in runs if True)[:1] == [0]
    assert duplicates == 0  # leases are long: a redelivery here would be a bug


async def _distinct(queue: str) -> int:
    return len({job_id for job_id, *_ in jobs.SEEN[queue]})


async def test_sigterm_lets_running_jobs_finish_and_loses_nothing(backend: BackendCase) -> None:
    # Jobs announce their start through progress: a backend may lease jobs ahead (they show
    # as active before they run), and those must go back untouched.
    backend.require(Feature.STATUS, Feature.PROGRESS)
    async with backend.client() as client:
        handles = await client.queue("shutdown").add_many(
            [Task(n=i, mode="announce", sleep=1.5) for i in range(6)]
        )
        proc = worker_process(backend, ["shutdown"], grace=10)
        try:
            progress = await eventually(
                lambda: asyncio.gather(*(h.progress() for h in handles)),
                lambda p: "started" in p,
                timeout=30,
                what="a job to start",
            )
            proc.send_signal(signal.SIGTERM)  # 1.5 s before any job can finish
            started = {h.id for h, p in zip(handles, progress, strict=True) if p == "started"}
            stopped = time.monotonic()
            out = await asyncio.to_thread(output_of, proc, 20)
            assert proc.returncode == 0, out
            assert time.monotonic() - stopped < 10, out
        finally:
            if proc.poll() is None:
                proc.kill()
        infos = {h.id: await h.info() for h in handles}
        summary = {i: (info.status.value, info.progress) for i, info in infos.items()}
        for info in infos.values():
            if info.progress == "started":  # it ran: it finished within the grace period
                assert info.status is JobStatus.COMPLETED, (summary, out)
            else:  # it never ran: back in the queue, not failed, not lost
                assert info.status is JobStatus.WAITING, (summary, out)
        assert started <= {i for i, info in infos.items() if info.status is JobStatus.COMPLETED}
        assert len(started) <= 2  # batch_size
        rest = [h for h in handles if infos[h.id].status is JobStatus.WAITING]
        assert rest, summary
        async with worker(backend, ["shutdown"]) as task:
            for h in rest:
                await eventually(h.status, lambda s: s is JobStatus.COMPLETED, worker_task=task)
        for h in handles:
            info = await h.info()
            assert info.status is JobStatus.COMPLETED
            assert info.error is None


def _record_lines(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        kind, n, pid = line.split()
        out.append((kind, int(n), int(pid)))
    return out


async def test_sigterm_drain_seen_from_the_jobs(
    backend: BackendCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same promise checked from what the jobs record (no status needed, so every backend
    runs it): jobs that started before SIGTERM end in that process; the others run later,
    elsewhere, exactly once."""
    record = backend.tmp_path / "record.log"
    monkeypatch.setenv("QGEN_CONTRACT_RECORD", str(record))
    n = 6
    async with backend.client() as client:
        handles = await client.shutdown_rec.add_many([Task(n=i, sleep=1.5) for i in range(n)])
        proc = worker_process(
            backend, ["shutdown-rec"], grace=10, extra_env={"QGEN_CONTRACT_RECORD": str(record)}
        )
        try:
            deadline = time.monotonic() + 30
            while not _record_lines(record):
                if proc.poll() is not None:
                    raise AssertionError(f"the worker exited: {output_of(proc)}")
                assert time.monotonic() < deadline, "no job started"
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGTERM)  # 1.5 s before any job can end
            out = await asyncio.to_thread(output_of, proc, 20)
            assert proc.returncode == 0, out
        finally:
            if proc.poll() is None:
                proc.kill()
        first = _record_lines(record)
        started = {job for kind, job, _ in first if kind == "start"}
        ended = {job for kind, job, _ in first if kind == "end"}
        assert started and started == ended, (first, out)
        assert len(started) <= 2  # batch_size
        async with worker(backend, ["shutdown-rec"]) as task:
            await eventually(
                lambda: _ends(record),
                lambda e: len(set(e)) == n,
                worker_task=task,
                timeout=60,
                what="every job to end",
            )
            await settled(backend, "shutdown-rec", handles, worker_task=task)
        ends = _ends_now(record)
        assert sorted(ends) == list(range(n)), ends  # each job ended exactly once


async def _ends(path: Path) -> list[int]:
    return _ends_now(path)


def _ends_now(path: Path) -> list[int]:
    return [job for kind, job, _ in _record_lines(path) if kind == "end"]


async def test_stop_right_after_start_ends_the_worker(backend: BackendCase) -> None:
    """A worker stopped while it is still starting (connecting, creating its consumers) ends;
    a stop that lands mid start-up must not be lost. Several moments in the start-up window."""
    for pause in (0.0, 0.01, 0.05, 0.2, 0.5):
        async with worker(backend, ["work", "retry", "notify"]) as task:
            await asyncio.sleep(pause)
        assert task.done() and task.exception() is None  # worker() waited for it (60 s cap)

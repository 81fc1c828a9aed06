"""Retries with backoff, failure, dead letters, fail(), discard(), bad input and timeouts.

"No further attempt" is checked after :func:`settled` (the job is final, or on SQS its message
is gone), never after a sleep that a loaded machine could outlast.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import pytest
from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import BackendCase, eventually, generated_client, settled, worker
from support.tcp_proxy import TcpProxy, server_port

from qgen import JobFailedError, JobStatus
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.capabilities import Feature, Level, feature
from qgen.runtime.errors import BackendUnavailable

BACKOFF = 0.3  # the "retry" queue: 3 attempts, fixed 300 ms backoff


async def _runs(queue: str) -> int:
    return len(jobs.SEEN[queue])


def _gaps(queue: str, job_id: str | None = None) -> list[float]:
    """Seconds from the end of each attempt to the start of the next, per job."""
    runs = [r for r in jobs.SEEN[queue] if job_id is None or r[0] == job_id]
    return [nxt[3] - prev[4] for prev, nxt in itertools.pairwise(runs)]


async def test_exception_is_retried_with_backoff_then_fails(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=7, mode="boom"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 3, worker_task=task)
        await settled(backend, "retry", [handle], worker_task=task)
        runs = jobs.SEEN["retry"]
        assert [attempt for _, attempt, _, _, _ in runs] == [1, 2, 3]
        for gap in _gaps("retry"):
            assert backend.earliest(BACKOFF) <= gap <= backend.latest(BACKOFF), gap
        if backend.supports(Feature.STATUS):
            info = await handle.info()
            assert info.status is JobStatus.FAILED
            assert info.error is not None
            assert (info.error.type, info.error.message) == ("BoomError", "boom 7")
            assert info.error.traceback is None or "BoomError" in info.error.traceback
            assert info.attempts_made == 3
        if backend.supports(Feature.RESULTS):
            with pytest.raises(JobFailedError) as err:
                await handle.result(timeout=30)
            assert (err.value.error_type, err.value.error_message) == ("BoomError", "boom 7")
            assert not err.value.discarded


async def test_job_backoff_type_delay_and_cap_override_the_queue(backend: BackendCase) -> None:
    """The job's own backoff (exponential, delay d, max_delay 2d) and attempts replace the
    queue's (fixed 300 ms, 3 attempts): gaps d, 2d, 2d. Each gap is at least its backoff
    (causal: exact); the capped third gap stays far below the 4d it would be uncapped."""
    d = 2.0 if backend.whole_seconds else 1.5  # 2d + SLACK < 4d
    backoff = {"type": "exponential", "delay": int(d * 1000), "max_delay": int(2 * d * 1000)}
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=1, mode="boom"), attempts=4, backoff=backoff)
        await eventually(lambda: _runs("retry"), lambda n: n >= 4, worker_task=task, timeout=60)
        await settled(backend, "retry", [handle], worker_task=task)
    assert [attempt for _, attempt, _, _, _ in jobs.SEEN["retry"]] == [1, 2, 3, 4]
    gaps = _gaps("retry")
    assert gaps[0] >= backend.earliest(d), gaps  # the job's delay, not the queue's 300 ms
    assert gaps[1] >= backend.earliest(2 * d), gaps  # exponential, not fixed
    assert gaps[2] >= backend.earliest(2 * d), gaps
    for gap, wait in zip(gaps, (d, 2 * d, 2 * d), strict=True):
        assert gap <= backend.latest(wait) < 4 * d, gaps  # capped: 4d if max_delay were lost


async def test_job_backoff_jitter_shortens_the_waits(backend: BackendCase) -> None:
    """Jitter 1.0 on a fixed backoff d makes each wait uniform in [0, d]: never longer than d,
    and over sixteen jobs at least one clearly shorter. Without jitter every wait is at least d
    (causal), so a lost jitter always fails. Whole-second backends round each wait up, and
    moto's long poll sees a message made visible again up to 1 s late (it rechecks once a
    second), so there d is 6 s: a wait shorter than 0.8 d then needs a jittered delay of at most
    3 s, which sixteen draws all miss with a chance of 1 in 65,536."""
    d = 6.0 if backend.whole_seconds else 3.0
    n = 16
    backoff = {"type": "fixed", "delay": int(d * 1000), "jitter": 1.0}
    async with backend.client() as client, worker(backend, ["backoff"]) as task:
        handles = [
            await client.add("backoff", Task(n=i, mode="boom"), attempts=2, backoff=backoff)
            for i in range(n)
        ]
        await eventually(lambda: _runs("backoff"), lambda k: k >= 2 * n, worker_task=task)
        await settled(backend, "backoff", handles, worker_task=task)
    gaps = [g for h in handles for g in _gaps("backoff", h.id)]
    assert len(gaps) == n, jobs.SEEN["backoff"]
    assert all(g <= backend.latest(d) for g in gaps), gaps  # jitter never lengthens a wait
    assert min(gaps) < 0.8 * d, gaps


async def test_fail_retries_then_fails(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=3, mode="fail"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 3, worker_task=task)
        await settled(backend, "retry", [handle], worker_task=task)
        if backend.supports(Feature.STATUS):
            info = await handle.info()
            assert info.status is JobStatus.FAILED
            assert info.error is not None
            assert (info.error.type, info.error.message) == ("QueueJobFailed", "failing 3")
    assert len(jobs.SEEN["retry"]) == 3


async def test_discard_ends_the_job_without_retry(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        handle = await client.add("retry", Task(n=2, mode="discard"))
        await eventually(lambda: _runs("retry"), lambda n: n >= 1, worker_task=task)
        await settled(backend, "retry", [handle], worker_task=task)
        native = feature(Feature.DISCARD, backend.name).level is Level.NATIVE
        if backend.supports(Feature.STATUS):
            info = await handle.info()
            # emulated discard may be reported as failed (the table says so); native: discarded
            allowed = {JobStatus.DISCARDED} if native else {JobStatus.DISCARDED, JobStatus.FAILED}
            assert info.status in allowed
            assert info.attempts_made == 1
        if backend.supports(Feature.RESULTS):
            with pytest.raises(JobFailedError) as err:
                await handle.result(timeout=30)
            if native:
                assert err.value.discarded
    assert len(jobs.SEEN["retry"]) == 1


async def test_failed_job_is_copied_to_the_dead_letter_queue(backend: BackendCase) -> None:
    async with backend.client() as client, worker(backend, ["doomed", "graveyard"]) as task:
        handle = await client.add("doomed", Task(n=42, mode="boom"))
        await eventually(lambda: _runs("graveyard"), lambda n: n >= 1, worker_task=task)
        await settled(backend, "doomed", [handle], worker_task=task)
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
        assert jobs.SEEN["retry"] == []  # the function never ran
        assert (await handle.info()).status is JobStatus.FAILED


async def test_timeout_fails_the_attempt(backend: BackendCase) -> None:
    """The job would sleep 60 s; its 0.3 s timeout ends the attempt long before."""
    async with backend.client() as client, worker(backend, ["timeout"]) as task:
        handle = await client.add("timeout", Task(n=1, sleep=60))
        await eventually(lambda: _runs("timeout"), lambda n: n >= 1, worker_task=task)
        _, _, _, start, end = jobs.SEEN["timeout"][0]
        assert end - start < 30  # cut by the timeout, not by the end of its sleep
        await settled(backend, "timeout", [handle], worker_task=task)
        if backend.supports(Feature.STATUS):
            info = await handle.info()
            assert info.status is JobStatus.FAILED
            assert info.error is not None and info.error.type == "JobTimeout"
    assert len(jobs.SEEN["timeout"]) == 1  # attempts=1


async def test_status_is_delayed_during_retry_backoff(backend: BackendCase) -> None:
    backend.require(Feature.STATUS)
    async with backend.client() as client, worker(backend, ["retry"]) as task:
        # a 1.5 s backoff: a window the status polls cannot miss on a busy machine
        backoff = {"type": "fixed", "delay": 1500}
        handle = await client.add("retry", Task(n=5, mode="boom"), attempts=2, backoff=backoff)
        seen: list[JobStatus] = []

        async def status() -> JobStatus:
            s = await handle.status()
            if not seen or seen[-1] is not s:
                seen.append(s)
            return s

        await eventually(status, lambda s: s.finished, worker_task=task)
        assert JobStatus.DELAYED in seen, seen  # between the attempts
        assert seen[-1] is JobStatus.FAILED, seen
        assert JobStatus.COMPLETED not in seen, seen


async def test_connections_dropped_under_running_jobs_fail_none(backend: BackendCase) -> None:
    """The server drops every connection qgen holds (a restart, a proxy, CLIENT KILL) while
    jobs run: each reports progress after the drop and completes at its first attempt (the
    ``work`` queue allows one). Warm-up adds made first leave several connections open, so a
    client that retried on another kept connection, dead too, would fail the job."""
    drop_connections = backend.connection_dropper()
    jobs.GATES["hold"] = gate = asyncio.Event()

    async def started() -> int:
        return len({h.id for h in held} & jobs.STARTED)

    async with backend.client() as client, worker(backend, ["work"]) as task:
        warm = await asyncio.gather(*(client.add("work", Task(n=i)) for i in range(8)))
        await settled(backend, "work", warm, worker_task=task)
        held = [
            await client.add("work", Task(n=100 + i, mode="late-progress", gate="hold"))
            for i in range(3)
        ]
        await eventually(started, lambda n: n == 3, worker_task=task)
        assert await asyncio.to_thread(drop_connections) >= 1
        gate.set()
        await settled(backend, "work", held, worker_task=task)
        for handle in held:
            assert (await handle.status()) is JobStatus.COMPLETED, await handle.info()
            assert await handle.progress() == "late"
        assert {a for j, a, _, _, _ in jobs.SEEN["work"] if j in {h.id for h in held}} == {1}


async def test_a_server_gone_mid_life_raises_backend_unavailable(backend: BackendCase) -> None:
    """The client reached its server, then the server went away (every connection closed, new
    ones refused): an add and a lookup raise ``BackendUnavailable`` naming the backend, the
    same error on every backend, after the backend's own retries, not the driver's error."""
    port = server_port(backend.url)
    if port is None:
        pytest.skip(f"{backend.name}: no server to take away")
    async with TcpProxy(port) as proxy:
        client = generated_client().AsyncQueueClient.from_url(proxy.route(backend.url))
        try:
            handle = await client.add("work", Task(n=1))  # reached through the proxy
            await proxy.cut()
            with pytest.raises(BackendUnavailable, match=f"the {backend.name} backend"):
                await client.add("work", Task(n=2))
            if backend.supports(Feature.STATUS):
                with pytest.raises(BackendUnavailable, match=f"the {backend.name} backend"):
                    await handle.info()
        finally:
            with contextlib.suppress(Exception):
                await client.close()

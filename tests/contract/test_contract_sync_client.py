"""The blocking client (what scripts and web apps without asyncio use) on every backend."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from contract_app.client import QueueClient
from contract_app.jobs import Task, TaskResult
from contract_harness import BackendCase, worker

from qgen import JobFailedError, JobStatus, UnsupportedByBackend, ValidationFailed
from qgen.runtime.capabilities import Feature


def _use_blocking_client(case: BackendCase) -> None:
    with QueueClient(case.url) as client:
        with pytest.raises(ValidationFailed):
            client.add("work", {"n": "x"})
        handle = client.queue("work").add(Task(n=11), delay=dt.timedelta(milliseconds=10))
        many = client.queue("work").add_many([Task(n=1), Task(n=2, mode="boom")])
        if not case.supports(Feature.RESULTS):
            with pytest.raises(UnsupportedByBackend):
                handle.result(timeout=10)
            return
        assert handle.result(timeout=20) == TaskResult(n=11, attempt=1)
        assert handle.status() is JobStatus.COMPLETED
        assert client.queue("work").get(handle.id).info().result == {"n": 11, "attempt": 1}
        assert many[0].result(timeout=20) == TaskResult(n=1, attempt=1)
        with pytest.raises(JobFailedError, match="boom 2"):
            many[1].result(timeout=20)


async def test_blocking_client(backend: BackendCase) -> None:
    async with worker(backend, ["work"]):
        # the blocking client runs its own loop: call it from a thread, never inside a loop
        await asyncio.to_thread(_use_blocking_client, backend)

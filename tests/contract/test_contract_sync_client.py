"""The blocking client (what scripts and web apps without asyncio use) on every backend."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from contract_app.jobs import Task
from contract_harness import BackendCase, as_json, worker

from qgen import JobFailedError, JobStatus, UnsupportedByBackend, ValidationFailed
from qgen.runtime.capabilities import Feature


def _use_blocking_client(case: BackendCase) -> None:
    with case.sync_client() as client:
        with pytest.raises(ValidationFailed):
            client.add("work", {"n": "x"})
        handle = client.work.add(Task(n=11), delay=dt.timedelta(milliseconds=10))
        many = client.work.add_many([Task(n=1), Task(n=2, mode="boom")])
        if not case.supports(Feature.RESULTS):
            with pytest.raises(UnsupportedByBackend):
                handle.result(timeout=10)
            return
        assert as_json(handle.result(timeout=30)) == {"n": 11, "attempt": 1}
        assert handle.status() is JobStatus.COMPLETED
        assert client.work.get(handle.id).info().result == {"n": 11, "attempt": 1}
        assert as_json(many[0].result(timeout=30)) == {"n": 1, "attempt": 1}
        with pytest.raises(JobFailedError, match="boom 2"):
            many[1].result(timeout=30)


async def test_blocking_client(backend: BackendCase) -> None:
    async with worker(backend, ["work"]):
        # the blocking client runs its own loop: call it from a thread, never inside a loop
        await asyncio.to_thread(_use_blocking_client, backend)

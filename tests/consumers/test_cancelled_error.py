"""Issue 10, item 7, on every backend: a ``CancelledError`` that escapes job code (the job
cancels and awaits its own inner task) is a failed attempt of that job, counted, retried with
backoff and then failed (and dead-lettered); the slot stays alive and other jobs keep running.
Only the worker's own shutdown gives jobs back."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qgen import JobStatus
from qgen.runtime.capabilities import BACKENDS, Feature, supports
from qgen.runtime.client import AsyncClientBase, QueueMeta
from qgen.runtime.worker import run_worker
from tests.consumers import cancel_app
from tests.consumers.cancel_app import Tagged

WIRING = "tests.consumers.cancel_app"
QUEUES = ("self-cancel", "self-cancel-ok", "self-cancel-dead")


class Client(AsyncClientBase):
    QUEUES = {
        "self-cancel": QueueMeta("self-cancel", Tagged, None, {"attempts": 2}),
        "self-cancel-ok": QueueMeta("self-cancel-ok", Tagged, None, {}),
        "self-cancel-dead": QueueMeta("self-cancel-dead", Tagged, None, {}),
    }


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    provider = importlib.import_module(f"support.{request.param}")
    with provider.backend_url(tmp_path) as value:
        yield value


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    for records in (cancel_app.RUNS, cancel_app.DONE, cancel_app.DEAD):
        records.clear()
    yield


async def _until(pred: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_job_that_cancels_itself_fails_like_any_error(url: str) -> None:
    backend = url.split(":", 1)[0].replace("postgresql", "postgres").replace("rediss", "redis")
    client = Client(url)
    stop = asyncio.Event()
    try:
        a = await client.queue("self-cancel").add({"tag": "a"})
        b = await client.queue("self-cancel").add({"tag": "b"})
        ok = [await client.queue("self-cancel-ok").add({"tag": f"ok{i}"}) for i in range(3)]
        worker = asyncio.create_task(
            run_worker(url, wiring_modules=[WIRING], services=None, queues=QUEUES, stop=stop)
        )
        # two attempts each, then the dead-letter copy; the healthy jobs are not held up
        await _until(lambda: sorted(cancel_app.DEAD) == ["a", "b"], "both dead-letter copies")
        await _until(lambda: len(cancel_app.DONE) == 3, "the healthy jobs")
        await asyncio.sleep(0.5)  # a job given back instead would run again by now
        assert sorted(cancel_app.RUNS) == ["a", "a", "b", "b"]
        if supports(Feature.STATUS, backend):
            for handle in (a, b):
                info = await handle.info()
                assert info.status is JobStatus.FAILED
                assert info.error is not None and info.error.type == "CancelledError"
                assert info.attempts_made == 2
            assert [await h.status() for h in ok] == [JobStatus.COMPLETED] * 3
        stop.set()
        await asyncio.wait_for(worker, 30)
        assert sorted(cancel_app.RUNS) == ["a", "a", "b", "b"]
    finally:
        stop.set()
        await client.close()

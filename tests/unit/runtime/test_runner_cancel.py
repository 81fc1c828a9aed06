"""The runner and a cancel request (issue 14), with hand-made deliveries: the request's
cancellation becomes ``Cancelled``; a shutdown's and the job's own do not."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from pydantic import BaseModel

from qgen.runtime.backends.base import Cancelled, Completed, Delivery
from qgen.runtime.interaction import Interaction, Progress, SyncInteraction
from qgen.runtime.runner import Runner
from qgen.runtime.wiring import QueueWiring


class In(BaseModel):
    mode: str = "wait"


SAW: list[str] = []


async def waits(services: Any, data: In, interaction: Interaction) -> int:
    q = interaction.queue
    assert q is not None
    services.set()  # running
    try:
        if data.mode == "swallow":
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                SAW.append(f"swallowed, flag={q.cancelled}")
            return 1
        if data.mode == "own":  # the job cancels an inner task and lets it escape
            inner = asyncio.ensure_future(asyncio.sleep(30))
            inner.cancel()
            await inner
        await asyncio.sleep(30)
        return 0
    except asyncio.CancelledError:
        SAW.append(f"cancelled, flag={q.cancelled}")
        raise


def polls(services: Any, data: In, interaction: SyncInteraction) -> int:
    q = interaction.queue
    assert q is not None
    services.set()
    for _ in range(3000):
        if q.cancelled:
            SAW.append("sync saw the flag")
            return 7
        threading.Event().wait(0.01)
    return 0


class Started:
    """The ``services`` of these jobs: an event set from any thread once the job runs."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def set(self) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


def delivery(mode: str) -> Delivery:
    async def report(value: Progress) -> None:
        return None

    return Delivery("q", "job-1", {"mode": mode}, 1, 3, None, report)


CONFIG: dict[str, Any] = {}


def runner(func: Any, services: Started) -> Runner:
    return Runner(QueueWiring("q", func, dict(CONFIG), (), ()), services, backend="sqlite")


@pytest.fixture(autouse=True, params=[{}, {"timeout": 60}], ids=["plain", "under-timeout"])
def _config(request: pytest.FixtureRequest) -> None:
    """Every case with and without a queue timeout (``asyncio.timeout`` counts cancels too)."""
    SAW.clear()
    CONFIG.clear()
    CONFIG.update(request.param)


async def _run_and_cancel(func: Any, mode: str) -> tuple[Any, asyncio.Task[Any]]:
    services = Started()
    d = delivery(mode)
    task = asyncio.create_task(runner(func, services).run(d))
    await asyncio.wait_for(services.event.wait(), 10)
    d.cancel.request("operator said so")
    return await asyncio.wait_for(task, 10), task


async def test_a_requested_cancel_of_an_async_job_is_cancelled_and_the_job_saw_it() -> None:
    outcome, task = await _run_and_cancel(waits, "wait")
    assert outcome == Cancelled("operator said so")
    assert SAW == ["cancelled, flag=True"]
    assert task.cancelling() == 0  # the request's cancellation was consumed


async def test_a_job_that_swallows_the_cancel_still_ends_cancelled() -> None:
    outcome, task = await _run_and_cancel(waits, "swallow")
    assert outcome == Cancelled("operator said so")
    assert SAW == ["swallowed, flag=True"]
    assert task.cancelling() == 0


async def test_a_sync_job_sees_the_flag_and_ends_cancelled() -> None:
    outcome, _ = await _run_and_cancel(polls, "poll")
    assert outcome == Cancelled("operator said so")
    assert SAW == ["sync saw the flag"]


async def test_a_job_cancelled_before_it_starts_never_runs() -> None:
    services = Started()
    d = delivery("wait")
    d.cancel.request("early")
    assert await runner(waits, services).run(d) == Cancelled("early")
    assert not services.event.is_set()


async def test_a_shutdown_cancel_is_not_a_cancel_request() -> None:
    services = Started()
    task = asyncio.create_task(runner(waits, services).run(delivery("wait")))
    await asyncio.wait_for(services.event.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert SAW == ["cancelled, flag=False"]


async def test_the_jobs_own_cancelled_error_is_not_a_cancel_request() -> None:
    services = Started()
    task = asyncio.create_task(runner(waits, services).run(delivery("own")))
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)  # the skeleton makes it a failed attempt
    assert SAW == ["cancelled, flag=False"]


async def test_no_request_no_change() -> None:
    async def quick(services: Any, data: In) -> int:
        return 5

    assert await runner(quick, Started()).run(delivery("x")) == Completed(5)

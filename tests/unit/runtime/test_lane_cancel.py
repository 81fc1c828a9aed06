"""A pushed cancel that arrives while its job is not held by a slot or the ready buffer: handed
to an idle slot in this turn of the loop, or still in the round that leases it. Neither may
wait for the next lease renewal (a third of the lease, 20 s with a 60 s lease)."""

from __future__ import annotations

import asyncio

from qgen.runtime.backends.base import Delivery
from qgen.runtime.backends.lanes import Job, Lane, Slot
from qgen.runtime.interaction import Progress
from qgen.runtime.settings import resolve


async def _no_progress(value: Progress) -> None:
    return None


def _job(job_id: str) -> Job:
    return Job(Delivery("q", job_id, None, 1, 3, None, _no_progress))


def _lane() -> Lane[Job]:
    return Lane(resolve("q", {"visibility_timeout": 60}, "sqlite"), asyncio.Event())


async def test_a_cancel_for_a_job_just_handed_to_an_idle_slot_reaches_it() -> None:
    lane = _lane()
    slot = Slot()
    lane._slots.append(slot)
    fut: asyncio.Future[Job | None] = asyncio.get_running_loop().create_future()
    lane._idle.append(fut)

    async def run() -> None:  # what the skeleton's slot does with the job it is handed
        slot.job = await fut
        await asyncio.sleep(30)

    task = asyncio.create_task(run())
    await asyncio.sleep(0)
    job = _job("a")
    lane.offer([job])  # handed over: in no buffer, and not yet the slot's job
    assert lane.request_cancel(["a"]) == 0
    for _ in range(3):
        await asyncio.sleep(0)
    assert slot.job is job and job.delivery.cancel.requested
    assert lane.unheld_cancels == {}
    task.cancel()


async def test_a_cancel_for_a_job_not_held_yet_renews_when_it_is_taken_in() -> None:
    lane = _lane()
    assert lane.request_cancel(["leasing", "elsewhere"]) == 0
    await asyncio.sleep(0)
    assert set(lane.unheld_cancels) == {"leasing", "elsewhere"}
    lane.offer([_job("other")])
    assert not lane.renew_soon.is_set()  # nothing asked about it: no extra renewal
    lane.offer([_job("leasing")])  # the round in flight leased it as the request came
    assert lane.renew_soon.is_set()  # the skeleton renews now; the server says what stands
    assert set(lane.unheld_cancels) == {"elsewhere"}

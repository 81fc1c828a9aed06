"""Jobs for the consumer tests: one that raises CancelledError on its own (it cancels and awaits
an inner task), a healthy one, and the dead-letter queue that records what reaches it."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from qgen import wire_queue_worker

RUNS: list[str] = []  # tag of every attempt of a self-cancelling job, in order
DONE: list[str] = []  # healthy jobs that ran
DEAD: list[str] = []  # what reached the dead-letter queue


class Tagged(BaseModel):
    tag: str


async def cancels_itself(services: object, data: Tagged) -> None:
    RUNS.append(data.tag)
    inner = asyncio.create_task(asyncio.sleep(30))
    await asyncio.sleep(0)
    inner.cancel()
    await inner  # CancelledError here, though nobody cancelled this job


async def healthy(services: object, data: Tagged) -> None:
    await asyncio.sleep(0.05)
    DONE.append(data.tag)


async def record_dead(services: object, data: Tagged) -> None:
    DEAD.append(data.tag)


FAST = {"poll_interval": 20, "drain_delay": 1, "autorun": False}
wire_queue_worker(
    queue="self-cancel",
    func=cancels_itself,
    config={
        **FAST,
        "batch_size": 2,
        "attempts": 2,
        "backoff": {"type": "fixed", "delay": 100},
        "dead_letter": "self-cancel-dead",
    },
)
wire_queue_worker(queue="self-cancel-ok", func=healthy, config={**FAST, "batch_size": 1})
wire_queue_worker(queue="self-cancel-dead", func=record_dead, config=FAST)

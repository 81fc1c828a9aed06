"""Queues used by the Redis tests (in-process and ``python -m qgen.runtime.worker`` workers)."""

from __future__ import annotations

import asyncio
import os
import time

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker


class Item(BaseModel):
    n: int
    seconds: float = 0.0


class NodeJob(BaseModel):
    n: int
    fail_times: int = 0


class Out(BaseModel):
    n: int
    pid: int


@sessionless_func(auth=False)
async def echo(services: object, data: Item, interaction: Interaction) -> Out:
    if interaction.queue is not None:
        await interaction.queue.update_progress({"step": "half", "n": data.n})
    if data.seconds:
        await asyncio.sleep(data.seconds)
    return Out(n=data.n, pid=os.getpid())


@sessionless_func(auth=False)
def blocking(services: object, data: Item) -> Out:
    time.sleep(data.seconds)  # blocks its thread, never the event loop that renews locks
    return Out(n=data.n, pid=os.getpid())


@sessionless_func(auth=False)
async def poison(services: object, data: Item) -> Out:
    if data.n == 13:
        raise RuntimeError("poison pill")
    return Out(n=data.n, pid=os.getpid())


FAST = {"drain_delay": 1, "attempts": 1}
wire_queue_worker(queue="r-echo", func=echo, config={**FAST, "batch_size": 4})
wire_queue_worker(
    queue="r-sync", func=blocking, config={**FAST, "batch_size": 2, "lock_duration": 1000}
)
wire_queue_worker(
    queue="r-poison",
    func=poison,
    config={
        "drain_delay": 1,
        "attempts": 2,
        "backoff": {"type": "fixed", "delay": 50},
        "dead_letter": "r-poison-dead",
        "batch_size": 4,
    },
)
# Reliability: short locks so a killed worker's jobs come back quickly; stalls allowed often.
wire_queue_worker(
    queue="r-kill",
    func=echo,
    config={
        "drain_delay": 1,
        "batch_size": 10,
        "lock_duration": 2000,
        "max_stalled_count": 10,
        "attempts": 3,
    },
)


def queue_metas() -> dict[str, object]:
    """QueueMeta per queue, as a generated client would have them."""
    from qgen.runtime.client import QueueMeta
    from qgen.runtime.wiring import registered

    wired = registered()
    metas: dict[str, object] = {
        q: QueueMeta(q, Item, Out, dict(wired[q].config))
        for q in ("r-echo", "r-sync", "r-poison", "r-kill")
    }
    # Run by a Node BullMQ worker in the interop tests; no Python function behind it.
    metas["r-node"] = QueueMeta("r-node", NodeJob, dict, {"attempts": 1})
    return metas

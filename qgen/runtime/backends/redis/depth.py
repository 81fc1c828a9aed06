"""The age of a Redis queue's waiting jobs, for the worker's metrics sampler (issue 17)."""

from __future__ import annotations

import asyncio
from typing import Any

from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT


async def oldest_waiting(client: Any, keys: QueueKeys) -> float | None:
    """When the job next in line was added (BullMQ's ``timestamp``, epoch s), None when none
    waits: the head of the ``prioritized`` set (where qgen adds every job) and the oldest of
    the ``wait`` and ``paused`` lists (Node jobs without a priority). With one priority, qgen's
    default, the head is the oldest waiting job; with several it is the next to run."""
    pipe = client.pipeline(transaction=False)
    pipe.zrange(keys.prioritized, 0, 0)
    pipe.lindex(keys.wait, -1)
    pipe.lindex(keys.paused, -1)
    async with asyncio.timeout(COMMAND_TIMEOUT):
        head, oldest, paused = await pipe.execute()
    ids = [i for i in (*head, oldest, paused) if i]
    if not ids:
        return None
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(keys.job(str(job_id)), "timestamp")
    async with asyncio.timeout(COMMAND_TIMEOUT):
        stamps = [int(t) for t in await pipe.execute() if t and str(t).isdigit()]
    return min(stamps) / 1000 if stamps else None

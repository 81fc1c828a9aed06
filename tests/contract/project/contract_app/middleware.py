from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from qgen import Interaction


async def outer(
    services: Any, interaction: Interaction, next_: Callable[[], Awaitable[None]]
) -> None:
    assert interaction.queue is not None
    services.calls.append(("outer-before", interaction.queue.job_id))
    await next_()
    services.calls.append(("outer-after", interaction.queue.job_id))


async def inner(
    services: Any, interaction: Interaction, next_: Callable[[], Awaitable[None]]
) -> None:
    assert interaction.queue is not None
    services.calls.append(("inner-before", interaction.queue.job_id))
    await next_()
    services.calls.append(("inner-after", interaction.queue.job_id))

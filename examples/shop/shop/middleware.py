from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from qgen import Interaction
from shop.services import Services


async def audit_middleware(
    services: Services, interaction: Interaction, next_: Callable[[], Awaitable[None]]
) -> None:
    """Records how long each job took, and whether it raised, in the services' audit log."""
    queue = interaction.queue
    label = f"{queue.queue_name}/{queue.job_id}#{queue.attempt}" if queue else "direct"
    started = time.perf_counter()
    try:
        await next_()
    except BaseException as exc:
        services.audit.append(f"{label} raised {type(exc).__name__}")
        raise
    services.audit.append(f"{label} took {(time.perf_counter() - started) * 1000:.1f} ms")

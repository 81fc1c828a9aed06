"""Helpers of the hostile suite: the backend case, an in-process worker, polling."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from qgen.runtime import capabilities
from qgen.runtime.backends.base import Backend
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.capabilities import Feature
from qgen.runtime.wiring import registered
from qgen.runtime.worker import run_worker

T = TypeVar("T")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WIRING = "hostile_app.wiring"


@dataclass(frozen=True)
class HostileCase:
    name: str
    url: str
    tmp_path: Path

    def supports(self, feature: Feature) -> bool:
        return capabilities.supports(feature, self.name)

    def client(self) -> Any:
        from hostile_app.client import AsyncQueueClient

        return AsyncQueueClient(self.url)

    @contextlib.asynccontextmanager
    async def raw_backend(self) -> AsyncIterator[Backend]:
        """The backend itself, as another producer (or a test) reaches it, below the client."""
        import hostile_app.wiring  # noqa: F401  # the queues' configs

        configs = {q: w.config for q, w in registered().items()}
        backend = await open_backend(self.url, configs)
        try:
            yield backend
        finally:
            await backend.close()


@contextlib.asynccontextmanager
async def worker(case: HostileCase, queues: Sequence[str]) -> AsyncIterator[asyncio.Task[None]]:
    """A worker running in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            case.url,
            wiring_modules=[WIRING],
            services=None,
            queues=list(queues),
            grace=5,
            stop=stop,
        )
    )
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(
    probe: Callable[[], Awaitable[T]] | Callable[[], T],
    ok: Callable[[T], bool],
    *,
    timeout: float = 20.0,
    what: str = "condition",
    worker_task: asyncio.Task[None] | None = None,
) -> T:
    """Poll ``probe`` until ``ok``; fail with the last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout

    async def value_now() -> T:
        value = probe()
        return await value if asyncio.iscoroutine(value) else value  # type: ignore[return-value]

    value = await value_now()
    while not ok(value):
        if worker_task is not None and worker_task.done():
            worker_task.result()  # raise the worker's crash
            raise AssertionError(f"worker stopped while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)
        value = await value_now()
    return value


def subprocess_env() -> dict[str, str]:
    """Environment for ``python -m qgen.runtime.worker`` on the hostile app."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    return env

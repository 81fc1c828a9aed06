"""Helpers of the contract suite: in-process workers, subprocess workers, polling."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from contract_app.client import AsyncQueueClient

from qgen.runtime import capabilities
from qgen.runtime.capabilities import Feature
from qgen.runtime.worker import run_worker

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
WIRING = "contract_app.wiring"
SERVICES = "contract_app.services:create_services"


@dataclass(frozen=True)
class BackendCase:
    name: str
    url: str
    tmp_path: Path

    def supports(self, feature: Feature) -> bool:
        return capabilities.supports(feature, self.name)

    def require(self, *features: Feature) -> None:
        import pytest

        for feat in features:
            support = capabilities.feature(feat, self.name)
            if not support.supported:
                pytest.skip(f"{self.name} does not support {feat.value}: {support.note}")

    def client(self) -> AsyncQueueClient:
        return AsyncQueueClient(self.url)

    @property
    def time_slack(self) -> float:
        """Extra seconds allowed on timings: backends that round delays to whole seconds get
        about a second more (read from the capability table)."""
        return 0.4 if self.supports(Feature.SUBSECOND_DELAY) else 1.6

    def latest_start(self, delay: float) -> float:
        """Latest acceptable wait for a ``delay`` s delay or backoff: whole-second backends may
        round it up to the next second, then take up to ``time_slack`` more."""
        rounded = delay if self.supports(Feature.SUBSECOND_DELAY) else math.ceil(delay)
        return rounded + self.time_slack

    def earliest_start(self, delay: float) -> float:
        """Earliest acceptable wait: whole-second backends may also round down."""
        if self.supports(Feature.SUBSECOND_DELAY):
            return delay - 0.05
        return math.floor(delay) - 0.05


@contextlib.asynccontextmanager
async def worker(
    case: BackendCase, queues: Sequence[str], *, grace: float = 5.0
) -> AsyncIterator[asyncio.Task[None]]:
    """A worker running in this process until the block ends."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            case.url,
            wiring_modules=[WIRING],
            services=SERVICES,
            queues=list(queues),
            grace=grace,
            stop=stop,
        )
    )
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    what: str = "condition",
    worker_task: asyncio.Task[None] | None = None,
) -> T:
    """Poll ``probe`` until ``ok``; fail with the last value after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not ok(value):
        if worker_task is not None and worker_task.done():
            worker_task.result()  # raise the worker's crash
            raise AssertionError(f"worker stopped while waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.02)
        value = await probe()
    return value


def worker_process(
    case: BackendCase,
    queues: Sequence[str],
    *,
    grace: float = 10.0,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``python -m qgen.runtime.worker`` for the contract app, as a separate process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "tests" / "contract"), env.get("PYTHONPATH", "")]
    )
    env.update(extra_env or {})
    cmd = [
        sys.executable,
        "-m",
        "qgen.runtime.worker",
        "--url",
        case.url,
        "--wiring",
        WIRING,
        "--services",
        SERVICES,
        "--queues",
        ",".join(queues),
        "--grace",
        str(grace),
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def output_of(proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return out.decode(errors="replace")


def any_of(*values: Any) -> Callable[[Any], bool]:
    return lambda v: v in values

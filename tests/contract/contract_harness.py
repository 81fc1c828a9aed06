"""Helpers of the contract suite: the generated client, in-process and subprocess workers run
from the generated build, waiting on conditions, and settling a queue.

Timing rule: assert order and causality, never speed. Lower bounds on a wait are causal (a
retry cannot start before its backoff) and stay exact; upper bounds only catch a delay that is
far too long (a lost cap), so they get ``SLACK`` seconds, far above any scheduling hiccup.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import math
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from support import contract_project
from support.sqs import messages_left

from qgen.runtime import capabilities, wiring
from qgen.runtime.capabilities import Feature
from qgen.runtime.manifest import Manifest, load_manifest
from qgen.runtime.worker import run_worker

T = TypeVar("T")
PROJECT = contract_project.PROJECT
SLACK = 2.5  # seconds an upper bound on a wait allows beyond the wait itself


def generated_client() -> Any:
    """The ``client`` module ``qgen build`` generated for the contract project."""
    from contract_app.generated import client

    return client


def generated_models() -> Any:
    from contract_app.generated import models

    return models


@dataclass(frozen=True)
class BackendCase:
    name: str
    url: str
    tmp_path: Path

    def supports(self, feature: Feature) -> bool:
        return capabilities.supports(feature, self.name)

    def supports_key(self, key: str) -> bool:
        return capabilities.config_support(key, self.name).supported

    def require(self, *features: Feature) -> None:
        import pytest

        for feat in features:
            support = capabilities.feature(feat, self.name)
            if not support.supported:
                pytest.skip(f"{self.name} does not support {feat.value}: {support.note}")

    def connection_dropper(self) -> Callable[[], int]:
        """What drops, on the server, every connection qgen holds to this case's place and
        says how many (skips when the test support has no way to: an embedded database, an
        HTTP service)."""
        import pytest

        drop = getattr(importlib.import_module(f"support.{self.name}"), "drop_connections", None)
        if drop is None:
            pytest.skip(f"{self.name}: no server-side connections the tests can drop")
        return lambda: int(drop(self.url))

    def client(self) -> Any:
        """The generated ``AsyncQueueClient`` on this backend."""
        return generated_client().AsyncQueueClient.from_url(self.url)

    def sync_client(self) -> Any:
        """The generated blocking ``QueueClient`` on this backend."""
        return generated_client().QueueClient.from_url(self.url)

    @property
    def whole_seconds(self) -> bool:
        """Delays and backoffs rounded up to whole seconds (SQS)."""
        return not self.supports(Feature.SUBSECOND_DELAY)

    def earliest(self, delay: float) -> float:
        """The shortest wait a ``delay`` s delay or backoff may be observed as: causal, so
        exact up to clock granularity (whole-second backends round up, never down)."""
        return delay - 0.05

    def latest(self, delay: float) -> float:
        """The longest acceptable wait: the delay (rounded up to whole seconds where the backend
        does) plus ``SLACK``."""
        return (math.ceil(delay) if self.whole_seconds else delay) + SLACK


@contextlib.contextmanager
def project_wiring_only(manifest: Manifest) -> Iterator[None]:
    """The wiring registry as a fresh worker process of the project sees it: other test modules
    of this session wire queues of their own, which the manifest check would refuse."""
    for module in manifest.wiring_modules:
        importlib.import_module(module)  # registered once per process, at first import
    saved = dict(wiring._REGISTRY)
    for name in set(saved) - set(manifest.queues):
        del wiring._REGISTRY[name]
    try:
        yield
    finally:
        added = dict(wiring._REGISTRY)
        wiring._REGISTRY.clear()
        wiring._REGISTRY.update({**saved, **added})


@contextlib.asynccontextmanager
async def worker(
    case: BackendCase, queues: Sequence[str], *, grace: float = 5.0
) -> AsyncIterator[asyncio.Task[None]]:
    """A worker in this process until the block ends, started from the generated manifest as
    the generated worker module starts it (the manifest is checked against the wiring)."""
    manifest = load_manifest(contract_project.MANIFEST)
    with project_wiring_only(manifest):
        async with _worker_task(case, manifest, queues, grace) as task:
            yield task


@contextlib.asynccontextmanager
async def _worker_task(
    case: BackendCase, manifest: Manifest, queues: Sequence[str], grace: float
) -> AsyncIterator[asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            case.url,
            wiring_modules=manifest.wiring_modules,
            services=manifest.services,
            queues=list(queues),
            grace=grace,
            stop=stop,
            manifest=manifest,
            backend=case.name,
        )
    )
    try:
        yield task
    finally:
        stop.set()
        # Not wait_for: a worker that swallows the cancel wait_for sends at its timeout would
        # then pass as stopped. A worker must end by its stop event alone.
        done, _ = await asyncio.wait({task}, timeout=60)
        if not done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise AssertionError("the worker did not stop within 60 s of its stop event")
        await task


async def eventually(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    timeout: float = 30.0,
    what: str = "condition",
    worker_task: asyncio.Task[None] | None = None,
) -> T:
    """Poll ``probe`` until ``ok``; fail with the last value after ``timeout`` s (a deadline
    for a hung test, not a speed requirement)."""
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


async def settled(
    case: BackendCase,
    queue: str,
    handles: Iterable[Any],
    *,
    worker_task: asyncio.Task[None] | None = None,
    timeout: float = 30.0,
) -> None:
    """Wait until the jobs can never run again: every job in a final state where the backend
    reports status, else (SQS) no message of the queue left, visible, in flight or delayed.
    After this, "no further attempt" is a fact, not a guess after a sleep."""
    if case.supports(Feature.STATUS):
        for handle in handles:
            await eventually(
                handle.status,
                lambda s: s.finished,
                worker_task=worker_task,
                timeout=timeout,
                what=f"job {handle.id} to finish",
            )
        return
    await eventually(
        lambda: asyncio.to_thread(messages_left, case.url, queue),
        lambda n: n == 0,
        worker_task=worker_task,
        timeout=timeout,
        what=f"queue {queue} to be empty",
    )


def worker_process(
    case: BackendCase,
    queues: Sequence[str],
    *,
    grace: float = 10.0,
    extra_env: dict[str, str] | None = None,
    stdout: Any = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """The generated worker module for this backend (``python -m
    contract_app.generated.workers.<backend>``), as a separate process."""
    cmd = contract_project.worker_command(
        case.name, "--url", case.url, "--queues", ",".join(queues), "--grace", str(grace)
    )
    return subprocess.Popen(
        cmd,
        cwd=PROJECT,
        env=contract_project.subprocess_env(extra_env),
        stdout=stdout,
        stderr=subprocess.STDOUT,
    )


def output_of(proc: subprocess.Popen[bytes], timeout: float = 60) -> str:
    out, _ = proc.communicate(timeout=timeout)
    return (out or b"").decode(errors="replace")


def as_json(value: Any) -> Any:
    """A value's JSON form: compares a generated model with the user's type of the same shape."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value)

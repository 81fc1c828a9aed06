"""Job functions of the contract app. ``SEEN`` records what ran, for in-process assertions."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import defaultdict
from typing import Any

from pydantic import BaseModel

from contract_app.kinds import Color, Item, Mail, Order, Point, Positive, Scalars, Size, Tree
from qgen import Interaction, SyncInteraction, sessionless_func

# queue -> list of (job_id, attempt, data, monotonic start, monotonic end)
SEEN: dict[str, list[tuple[str, int, Any, float, float]]] = defaultdict(list)
# name -> event a job waits on (tests create them before adding the job)
GATES: dict[str, asyncio.Event] = {}
# ids of the jobs ``work`` started (recorded as they start, not as they end)
STARTED: set[str] = set()
# job id -> what a cancellable job went through ("start 1", "cancelled flag=True", ...)
EVENTS: dict[str, list[str]] = defaultdict(list)


def _facts(interaction: Interaction | SyncInteraction) -> tuple[str, str, int]:
    q = interaction.queue
    assert q is not None
    return q.queue_name, q.job_id, q.attempt


def _record(interaction: Interaction | SyncInteraction, data: Any, start: float) -> None:
    queue, job_id, attempt = _facts(interaction)
    SEEN[queue].append((job_id, attempt, data, start, time.monotonic()))


# -- round trips: each returns its input --------------------------------------------------------


@sessionless_func
async def echo_order(services: Any, data: Order, interaction: Interaction) -> Order:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_tree(services: Any, data: Tree, interaction: Interaction) -> Tree:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_mail(services: Any, data: Mail, interaction: Interaction) -> Mail:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_point(services: Any, data: Point, interaction: Interaction) -> Point:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_color(services: Any, data: Color, interaction: Interaction) -> Color:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_size(services: Any, data: Size, interaction: Interaction) -> Size:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_union(services: Any, data: int | Item, interaction: Interaction) -> int | Item:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_items(services: Any, data: list[Item], interaction: Interaction) -> list[Item]:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_counts(
    services: Any, data: dict[str, int], interaction: Interaction
) -> dict[str, int]:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_ids(services: Any, data: set[int], interaction: Interaction) -> set[int]:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_scalars(services: Any, data: Scalars, interaction: Interaction) -> Scalars:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_maybe(services: Any, data: Item | None, interaction: Interaction) -> Item | None:
    _record(interaction, data, time.monotonic())
    return data


@sessionless_func
async def echo_positive(services: Any, data: Positive, interaction: Interaction) -> Positive:
    _record(interaction, data, time.monotonic())
    return data


# -- behaviour --------------------------------------------------------------------------------


class Task(BaseModel):
    n: int = 0
    mode: str = "ok"  # ok | boom | fail | discard | progress | announce | late-progress
    sleep: float = 0.0
    gate: str | None = None


class TaskResult(BaseModel):
    n: int
    attempt: int


class BoomError(Exception):
    pass


@sessionless_func
async def work(services: Any, data: Task, interaction: Interaction) -> TaskResult:
    """Does what ``data.mode`` says; used by most behaviour cases."""
    start = time.monotonic()
    q = interaction.queue
    assert q is not None
    STARTED.add(q.job_id)
    try:
        if data.mode == "boom":
            raise BoomError(f"boom {data.n}")
        if data.mode == "fail":
            q.fail(f"failing {data.n}")
        if data.mode == "discard":
            q.discard(f"discarding {data.n}")
        if data.mode == "announce":
            await q.update_progress("started")
        if data.mode == "progress":
            await q.update_progress(10)
            await q.update_progress({"step": 2, "of": 3})
        if data.gate is not None:
            await GATES[data.gate].wait()
        if data.mode == "late-progress":  # after the gate: once the test dropped connections
            await q.update_progress("late")
        if data.sleep:
            await asyncio.sleep(data.sleep)
        return TaskResult(n=data.n, attempt=q.attempt)
    finally:
        _record(interaction, data, start)


@sessionless_func
async def notify(services: Any, data: Task) -> None:
    """No interaction parameter, no result."""
    SEEN["notify"].append(("?", 0, data, time.monotonic(), time.monotonic()))


@sessionless_func
def blocking(services: Any, data: Task, interaction: SyncInteraction) -> TaskResult:
    """A plain ``def``: runs in a worker thread with blocking interaction methods."""
    start = time.monotonic()
    q = interaction.queue
    assert q is not None
    q.update_progress({"thread": threading.current_thread().name})
    if data.mode == "boom":
        _record(interaction, data, start)
        raise BoomError("sync boom")
    if data.sleep:
        time.sleep(data.sleep)
    _record(interaction, data, start)
    return TaskResult(n=data.n, attempt=q.attempt)


@sessionless_func
async def with_services(services: Any, data: Task, interaction: Interaction) -> TaskResult:
    """Checks the services object and the middleware that ran around it."""
    q = interaction.queue
    assert q is not None
    services.calls.append(("call", q.job_id))
    return TaskResult(n=services.created, attempt=q.attempt)


@sessionless_func
async def recorded(services: Any, data: Task) -> None:
    """Appends ``start <n> <pid>`` and ``end <n> <pid>`` lines to ``$QGEN_CONTRACT_RECORD``:
    what ran where, visible across processes (one O_APPEND write per line)."""
    _append(f"start {data.n} {os.getpid()}")
    await asyncio.sleep(data.sleep)
    _append(f"end {data.n} {os.getpid()}")


def _append(line: str) -> None:
    fd = os.open(os.environ["QGEN_CONTRACT_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


# -- the operator API (issue 14) ----------------------------------------------------------------


@sessionless_func
async def cancellable(services: Any, data: Task, interaction: Interaction) -> TaskResult:
    """Runs until cancelled (or ``data.sleep`` s); records its start and the cancellation."""
    q = interaction.queue
    assert q is not None
    EVENTS[q.job_id].append(f"start {q.attempt}")
    try:
        await asyncio.sleep(data.sleep or 3600)
    except asyncio.CancelledError:
        EVENTS[q.job_id].append(f"cancelled flag={q.cancelled}")
        raise
    return TaskResult(n=data.n, attempt=q.attempt)


@sessionless_func
def cancellable_sync(services: Any, data: Task, interaction: SyncInteraction) -> TaskResult:
    """A plain ``def`` cannot be interrupted: it looks at the flag and returns early."""
    q = interaction.queue
    assert q is not None
    EVENTS[q.job_id].append(f"start {q.attempt}")
    deadline = time.monotonic() + (data.sleep or 120)
    while time.monotonic() < deadline:
        if q.cancelled:
            EVENTS[q.job_id].append("saw the flag")
            return TaskResult(n=-1, attempt=q.attempt)
        time.sleep(0.02)
    return TaskResult(n=data.n, attempt=q.attempt)

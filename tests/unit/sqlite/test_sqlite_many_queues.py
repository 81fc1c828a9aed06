"""Many queues in one SQLite worker (issue 13 item 3): one poll read serves every queue of the
process, and a job added to an idle queue starts while another queue still has a deep backlog
(an ordering test: it asserts what happened first, never how fast)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from qgen.runtime.backends.base import AddOptions, Completed, Delivery, Outcome
from qgen.runtime.backends.sqlite import SqliteBackend, transport
from qgen.runtime.settings import resolve
from tests.unit.sqlite.sqlite_helpers import run_until


async def test_one_read_per_poll_for_all_queues(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    names = [f"idle-{i}" for i in range(50)]
    backend = await SqliteBackend.connect(url, {name: {} for name in names})
    statements: list[str] = []
    opened = transport.open_db

    def traced(path: Path, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
        conn = opened(path, synchronous, busy_timeout_ms)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(transport, "open_db", traced)
    settings = [resolve(name, {"poll_interval": 20}, "sqlite") for name in names]

    async def handle(d: Delivery) -> Outcome:
        return Completed(None)

    def polls() -> list[str]:
        return [s for s in statements if "json_each" in s and "qgen_jobs_ready" in s]

    async def enough_polls() -> bool:
        return len(polls()) >= 10

    try:
        await run_until(backend, settings, handle, enough_polls)
    finally:
        await backend.close()
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # every read is a poll of all 50 queues at once, or the recovery's one read of them all
    others = [s for s in reads if s not in polls()]
    assert len(others) <= 3, others
    assert all('"idle-49"' in s for s in polls())


async def test_an_idle_queue_starts_while_another_has_a_deep_backlog(url: str) -> None:
    backlog = 3_000
    backend = await SqliteBackend.connect(url, {"busy": {}, "quiet": {}})
    items = [({"n": i}, AddOptions()) for i in range(backlog)]
    await backend.enqueue_many("busy", items)
    busy_done = 0
    seen_at: dict[str, int] = {}
    started = asyncio.Event()

    async def handle(d: Delivery) -> Outcome:
        nonlocal busy_done
        if d.queue == "busy":
            started.set()
            await asyncio.sleep(0.002)
            busy_done += 1
        else:
            seen_at[d.job_id] = busy_done
        return Completed(None)

    settings = [
        resolve("busy", {"poll_interval": 20, "batch_size": 2}, "sqlite"),
        resolve("quiet", {"poll_interval": 20, "batch_size": 2}, "sqlite"),
    ]
    producer = await SqliteBackend.connect(url, {"quiet": {}})  # as another process adds

    async def quiet_job_ran() -> bool:
        if started.is_set() and not seen_at.get("adding"):
            seen_at["adding"] = 1
            await producer.enqueue("quiet", {"n": -1}, AddOptions(job_id="probe"))
        return "probe" in seen_at

    try:
        await run_until(backend, settings, handle, quiet_job_ran, timeout=120)
    finally:
        await producer.close()
        await backend.close()
    assert seen_at["probe"] < backlog // 2, seen_at  # long before the backlog drained

"""Schedules stored as BullMQ job schedulers on the real redis-server: a missed iteration runs
once and the next one is the next tick after now; ``catch_up=False`` drops it; a changed
definition is stored again; two workers advancing the same iteration make one job."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.redis import backend_url

from qgen.runtime.backends.registry import open_backend
from qgen.runtime.schedule_runner import SchedulerStore, store_of
from qgen.runtime.schedules import Schedule, make_schedule, next_tick, prev_tick

EVERY = 400


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[tuple[Any, SchedulerStore]]:
    with backend_url(tmp_path) as url:
        backend = await open_backend(url, {"ticks": {}})
        store = store_of(backend)
        assert store is not None
        try:
            yield backend, store
        finally:
            await store.close()
            await backend.close()


def now_ms() -> int:
    return int(time.time() * 1000)


async def _jobs(backend: Any, store: SchedulerStore, s: Schedule, lo: int, hi: int) -> list[int]:
    """Ticks in [lo, hi] that have a job (looked up by BullMQ's iteration id)."""
    found = []
    for tick in range(prev_tick(s, lo), hi + 1, EVERY):
        if await backend.get(s.queue, store.job_id(s, tick)) is not None:
            found.append(tick)
    return found


async def _record(store: Any, name: str) -> dict[str, Any]:
    return next(r for r in await store.records("ticks") if r["key"] == name)


async def test_a_missed_iteration_runs_once_then_the_next_tick(
    redis: tuple[Any, SchedulerStore],
) -> None:
    backend, store = redis
    s = make_schedule(name="fast", queue="ticks", every=EVERY, data={"n": 1})
    start = now_ms()
    await store.sync([s], {"fast": "ticks"}, ["ticks"], start)
    first = int((await _record(store, "fast"))["next"])
    assert first % EVERY == 0 and start < first <= now_ms() + EVERY  # the next multiple
    time.sleep((first - now_ms()) / 1000 + 1.5)  # no worker: three or four ticks pass
    later = now_ms()
    await store.sync([s], {"fast": "ticks"}, ["ticks"], later)  # a worker starts: nothing to change
    await store.advance([s], ["ticks"], later)
    assert await _jobs(backend, store, s, start, later + EVERY) == [first, next_tick(s, later)]
    # a second worker advancing the same due iteration adds nothing
    await store.advance([s], ["ticks"], later)
    assert await _jobs(backend, store, s, start, later + 3 * EVERY) == [
        first,
        next_tick(s, later),
    ]


async def test_catch_up_false_drops_the_missed_iteration(
    redis: tuple[Any, SchedulerStore],
) -> None:
    backend, store = redis
    s = make_schedule(name="skip", queue="ticks", every=EVERY, data={"n": 2}, catch_up=False)
    start = now_ms()
    await store.sync([s], {"skip": "ticks"}, ["ticks"], start)
    first = int((await _record(store, "skip"))["next"])
    time.sleep((first - now_ms()) / 1000 + 1.5)
    later = now_ms()
    await store.sync([s], {"skip": "ticks"}, ["ticks"], later)
    assert await _jobs(backend, store, s, start, later + EVERY) == [next_tick(s, later)]


async def test_a_changed_schedule_is_stored_again_and_a_removed_one_goes(
    redis: tuple[Any, SchedulerStore],
) -> None:
    _backend, store = redis
    old = make_schedule(name="sync", queue="ticks", every=60_000, data={"n": 3})
    gone = make_schedule(name="gone", queue="ticks", every=60_000, data={"n": 4})
    await store.sync([old, gone], {"sync": "ticks", "gone": "ticks"}, ["ticks"], now_ms())
    new = make_schedule(
        name="sync", queue="ticks", cron="*/5 * * * *", tz="Asia/Tokyo", data={"n": 5}
    )
    await store.sync([new], {"sync": "ticks"}, ["ticks"], now_ms())
    records = {r["key"]: r for r in await store.records("ticks")}  # type: ignore[attr-defined]
    assert sorted(records) == ["sync"]
    rec = records["sync"]
    assert (rec["pattern"], rec["tz"], rec["template"]["data"]) == (
        "*/5 * * * *",
        "Asia/Tokyo",
        {"n": 5},
    )
    assert rec["next"] == next_tick(new, now_ms())


async def test_qgen_schedules_looks_up_bullmq_iteration_ids(tmp_path: Path) -> None:
    import sched_project

    from qgen.cli_schedules import _rows
    from qgen.runtime.manifest import load_manifest

    manifest = load_manifest(sched_project.MANIFEST)
    fast = manifest.schedules["fast"]
    with backend_url(tmp_path) as url:
        backend = await open_backend(url, {"ticks": {}})
        store = store_of(backend)
        assert store is not None
        try:
            start = now_ms()
            await store.sync([fast], {"fast": "ticks"}, ["ticks"], start)
            first = int((await store.records("ticks"))[0]["next"])  # type: ignore[attr-defined]
            time.sleep(max(first - now_ms(), 0) / 1000 + 0.05)
            rows = {r["name"]: r for r in await _rows(manifest, url, first + 10)}
        finally:
            await store.close()
            await backend.close()
    assert rows["fast"]["last_job_id"] == f"repeat:fast:{first}"
    assert rows["fast"]["last"] == f"fired: job repeat:fast:{first} is delayed"
    assert rows["nightly"]["last"].startswith("not fired: no job repeat:nightly:")


async def test_a_worker_without_schedules_still_removes_ghosts(tmp_path: Path) -> None:
    import asyncio

    import sched_project

    from qgen.runtime.manifest import load_manifest
    from qgen.runtime.schedule_runner import running

    manifest = load_manifest(sched_project.MANIFEST)
    ghost = make_schedule(name="ghost", queue="other", every=60_000, data={"n": 1})
    with backend_url(tmp_path) as url:
        backend = await open_backend(url, {"other": {}})
        store: Any = store_of(backend)
        try:
            await store.sync([ghost], {"ghost": "other"}, ["other"], now_ms())
            assert [r["key"] for r in await store.records("other")] == ["ghost"]
            async with running(backend, manifest, ["other"]) as runner:
                assert runner is not None  # no schedule of its own, but a store to keep
                deadline = time.monotonic() + 30
                while await store.records("other"):
                    assert time.monotonic() < deadline, "the ghost schedule stayed"
                    await asyncio.sleep(0.05)
        finally:
            await store.close()
            await backend.close()


async def test_a_schedule_moved_to_another_queue_leaves_the_old_one(
    redis: tuple[Any, SchedulerStore],
) -> None:
    _backend, store = redis
    before = make_schedule(name="moved", queue="ticks", every=60_000, data={"n": 1})
    after = make_schedule(name="moved", queue="other", every=60_000, data={"n": 1})
    await store.sync([before], {"moved": "ticks"}, ["ticks"], now_ms())
    await store.sync([after], {"moved": "other"}, ["ticks", "other"], now_ms())
    records: Any = await store.records_of(["ticks", "other"])  # type: ignore[attr-defined]
    assert {q: [r["key"] for r in recs] for q, recs in records.items()} == {
        "ticks": [],
        "other": ["moved"],
    }

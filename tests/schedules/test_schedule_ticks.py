"""The schedule runner with an injected clock: daylight-saving transitions, late wake-ups, and
missed ticks at start-up (on the real SQLite backend: one job per tick, by id)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from qgen import JobStatus
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.errors import ConfigError
from qgen.runtime.schedule_runner import MAX_LATE_TICKS, ScheduleRunner
from qgen.runtime.schedules import (
    Schedule,
    make_schedule,
    next_tick,
    prev_tick,
    tick_job_id,
    tick_of_job_id,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def ms(zone: ZoneInfo, *args: int, fold: int = 0) -> int:
    return int(dt.datetime(*args, tzinfo=zone, fold=fold).timestamp() * 1000)  # type: ignore[misc]


def local(zone: ZoneInfo, tick: int) -> str:
    return dt.datetime.fromtimestamp(tick / 1000, zone).isoformat()


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def now_ms(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


class Recorder:
    """Collects adds; stands in for a backend only where the arithmetic is under test."""

    def __init__(self) -> None:
        self.added: list[tuple[str, Any, str | None]] = []

    async def enqueue(self, queue: str, data: Any, options: AddOptions) -> str:
        self.added.append((queue, data, options.job_id))
        return options.job_id or "?"


async def _drive(runner: ScheduleRunner, clock: FakeClock, until: int) -> None:
    await runner.start()
    while clock.now < until:
        await clock.sleep(await runner.step())


def _cron(cron: str, tz: str, **kw: Any) -> Schedule:
    return make_schedule(name="c", queue="q", cron=cron, tz=tz, data={"x": 1}, **kw)


async def test_spring_gap_fires_once_at_the_next_valid_time() -> None:
    # Europe/Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST; 02:30 does not exist that day.
    sched = _cron("30 2 * * *", "Europe/Berlin", catch_up=False)
    clock = FakeClock(ms(BERLIN, 2026, 3, 27, 12, 0))
    runner = ScheduleRunner(Recorder(), [sched], clock)
    await _drive(runner, clock, ms(BERLIN, 2026, 3, 31, 12, 0))
    assert [local(BERLIN, t) for _, t in runner.fired] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


async def test_several_wall_times_in_the_gap_make_one_tick() -> None:
    sched = _cron("*/15 2 * * *", "Europe/Berlin", catch_up=False)
    clock = FakeClock(ms(BERLIN, 2026, 3, 29, 0, 0))
    runner = ScheduleRunner(Recorder(), [sched], clock)
    await _drive(runner, clock, ms(BERLIN, 2026, 3, 29, 12, 0))
    assert [local(BERLIN, t) for _, t in runner.fired] == ["2026-03-29T03:00:00+02:00"]


async def test_repeated_hour_fires_each_wall_time_once() -> None:
    # Europe/Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET; 02:00-02:59 happens twice.
    sched = _cron("*/30 2 * * *", "Europe/Berlin", catch_up=False)
    clock = FakeClock(ms(BERLIN, 2026, 10, 24, 12, 0))
    runner = ScheduleRunner(Recorder(), [sched], clock)
    await _drive(runner, clock, ms(BERLIN, 2026, 10, 26, 12, 0))
    assert [local(BERLIN, t) for _, t in runner.fired] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:00:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_cron_in_another_zone_and_prev_tick() -> None:
    # New York, 2026-03-08: 02:00 EST -> 03:00 EDT.
    sched = _cron("30 2 * * *", "America/New_York")
    gap_day = ms(NEW_YORK, 2026, 3, 8, 12, 0)
    assert local(NEW_YORK, prev_tick(sched, gap_day)) == "2026-03-08T03:00:00-04:00"
    tick = next_tick(sched, ms(NEW_YORK, 2026, 3, 7, 12, 0))
    assert local(NEW_YORK, tick) == "2026-03-08T03:00:00-04:00"
    assert prev_tick(sched, tick) == tick  # at or before
    assert local(NEW_YORK, prev_tick(sched, tick - 1)) == "2026-03-07T02:30:00-05:00"


def test_every_ticks_are_multiples_of_the_interval() -> None:
    sched = make_schedule(name="e", queue="q", every=dt.timedelta(seconds=2), data=None)
    assert sched.every_ms == 2000
    assert (prev_tick(sched, 5_999), prev_tick(sched, 6_000), next_tick(sched, 6_000)) == (
        4_000,
        6_000,
        8_000,
    )
    job_id = tick_job_id(sched, 8_000)
    assert job_id == "sched-e-8000" and tick_of_job_id("e", job_id) == 8_000


@pytest.mark.parametrize(
    ("kw", "problem"),
    [
        ({"cron": "0 3 * *"}, "five fields"),
        ({"cron": "0 3 * * *", "tz": "Nowhere/City"}, "unknown time zone"),
        ({"every": 50}, "whole milliseconds from 100"),
        ({"every": 1000, "cron": "@daily"}, "exactly one of cron= and every="),
        ({"every": 1000, "name": "a b"}, "schedule name"),
    ],
)
def test_wire_schedule_refuses_bad_arguments_at_once(kw: dict[str, Any], problem: str) -> None:
    args: dict[str, Any] = {"name": "n", "queue": "q", **kw}
    with pytest.raises(ConfigError, match=problem):
        make_schedule(**args)


async def test_a_late_wake_up_fires_every_tick_it_slept_through() -> None:
    sched = make_schedule(name="e", queue="q", every=1000, data=None, catch_up=False)
    clock = FakeClock(10_500)
    runner = ScheduleRunner(Recorder(), [sched], clock)
    await runner.start()
    clock.now = 15_200  # the loop was blocked for 4.7 s
    await runner.step()
    assert [t for _, t in runner.fired] == [11_000, 12_000, 13_000, 14_000, 15_000]
    clock.now = 15_000 + (MAX_LATE_TICKS + 5) * 1000 + 10  # far too late: the newest only
    await runner.step()
    assert runner.fired[-1][1] == 15_000 + (MAX_LATE_TICKS + 5) * 1000
    assert len(runner.fired) == 6


class Failing(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    async def enqueue(self, queue: str, data: Any, options: AddOptions) -> str:
        if self.fail:
            raise ConnectionError("backend down")
        return await super().enqueue(queue, data, options)


async def test_a_failed_add_is_retried_with_the_same_tick() -> None:
    sched = make_schedule(name="e", queue="q", every=1000, data=None, catch_up=False)
    backend = Failing()
    clock = FakeClock(10_500)
    runner = ScheduleRunner(backend, [sched], clock)
    await runner.start()
    clock.now = 11_000
    assert await runner.step() == 1.0  # RETRY_S
    backend.fail = False
    clock.now = 12_100
    await runner.step()
    assert [job_id for _, _, job_id in backend.added] == ["sched-e-11000", "sched-e-12000"]


async def test_a_failed_catch_up_is_retried() -> None:
    sched = make_schedule(name="e", queue="q", every=1000, data=None)
    backend = Failing()
    clock = FakeClock(10_500)
    runner = ScheduleRunner(backend, [sched], clock)
    await runner.start()  # the backend is down: the missed tick 10 000 is kept
    backend.fail = False
    clock.now = 10_700
    await runner.step()
    assert [job_id for _, _, job_id in backend.added] == ["sched-e-10000"]
    clock.now = 11_000
    await runner.step()
    assert [job_id for _, _, job_id in backend.added] == ["sched-e-10000", "sched-e-11000"]


# -- missed ticks at start-up, on the real SQLite backend ---------------------------------------


async def _ids(backend: Any, queue: str) -> list[str]:
    """The schedule jobs stored for ticks 90 s .. 110 s (looked up by id: every backend)."""
    found = []
    for name in ("e", "s"):
        for tick in range(90_000, 110_000, 1000):
            job = await backend.get(queue, f"sched-{name}-{tick}")
            if job is not None:
                assert job.status is JobStatus.WAITING
                found.append(job.id)
    return sorted(found)


async def test_missed_ticks_fire_once_at_start_up(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'jobs.db').resolve()}"
    backend = await open_backend(url, {"q": {}})
    try:
        every = make_schedule(name="e", queue="q", every=1000, data={"n": 1})
        skip = make_schedule(name="s", queue="q", every=1000, data={"n": 2}, catch_up=False)
        clock = FakeClock(100_500)
        first = ScheduleRunner(backend, [every, skip], clock)
        await _drive(first, clock, 102_600)  # a worker runs: ticks 101 000 and 102 000
        assert await _ids(backend, "q") == [
            "sched-e-100000",  # catch-up at its first start: the tick before it started
            "sched-e-101000",
            "sched-e-102000",
            "sched-s-101000",
            "sched-s-102000",
        ]
        # no worker from 102.6 s to 107.3 s: five ticks missed; a new worker starts
        clock.now = 107_300
        again = ScheduleRunner(backend, [every, skip], clock)
        await again.start()
        assert again.fired == [("e", 107_000)]  # once, the newest; s skips missed ticks
        # a second process starting at the same time adds nothing new (same id)
        await ScheduleRunner(backend, [every, skip], clock).start()
        ids = await _ids(backend, "q")
        assert [i for i in ids if i.startswith("sched-e-")] == [
            "sched-e-100000",
            "sched-e-101000",
            "sched-e-102000",
            "sched-e-107000",
        ]
        job = await backend.get("q", "sched-e-107000")
        assert job is not None and job.data == {"n": 1}
    finally:
        await backend.close()


class Relay:
    """Stands in for the SQS claim queue (tests/schedules/test_schedule_workers.py runs the
    real one)."""

    def __init__(self) -> None:
        self.claims: list[tuple[str, Any, str]] = []

    async def start(self) -> None: ...

    async def fire(self, queue: str, data: Any, job_id: str) -> None:
        self.claims.append((queue, data, job_id))

    async def relay_once(self) -> int:
        return 0


async def test_with_a_relay_ticks_are_claimed_not_added() -> None:
    sched = make_schedule(name="e", queue="q", every=1000, data={"n": 1})
    backend, relay = Recorder(), Relay()
    clock = FakeClock(10_500)
    runner = ScheduleRunner(backend, [sched], clock, relay=relay)
    await runner.start()
    clock.now = 11_000
    await runner.step()
    assert relay.claims == [("q", {"n": 1}, "sched-e-10000"), ("q", {"n": 1}, "sched-e-11000")]
    assert backend.added == []

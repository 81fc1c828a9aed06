"""Schedules: ``wire_schedule(...)`` and the arithmetic of their ticks.

A schedule adds one job to a wired queue at each tick: ``cron=`` (five fields or ``@daily``
and friends, read in ``tz``) or ``every=`` (milliseconds or a ``timedelta``; ticks are the
multiples of the interval since the Unix epoch, so every process computes the same ones). A tick
is identified by its instant in epoch milliseconds; its job id is ``sched-<name>-<tick ms>``, so
every worker process that fires a tick adds the same job and the backend keeps one.

Cron and daylight saving time: cron fields are matched against the wall clock of ``tz``
(croniter over naive local times), then each wall time becomes an instant with zoneinfo. A wall
time that does not exist (the hour skipped in spring) fires once at the end of the gap (the
first valid instant after it); a wall time that occurs twice (the hour repeated in autumn)
fires once, at its first occurrence. See docs/schedules.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qgen.runtime.errors import ConfigError
from qgen.runtime.names import validate_queue_name

SCHEDULE_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"
_NAME_RE = re.compile(SCHEDULE_NAME_PATTERN)
JOB_ID_PREFIX = "sched-"
MIN_EVERY_MS = 100  # shorter intervals are refused: each tick is a round trip to the backend
MAX_EVERY_MS = 366 * 86_400_000
_SCAN_LIMIT = 10_000  # wall times examined for one tick before giving up (never in practice)

__all__ = [
    "Schedule",
    "next_tick",
    "prev_tick",
    "registered_schedules",
    "tick_job_id",
    "wire_schedule",
]


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    queue: str
    cron: str | None  # exactly one of cron and every_ms is set
    every_ms: int | None
    tz: str  # an IANA zone name; "UTC" by default
    data: Any  # the job data (JSON), validated against the queue's input schema by the build
    catch_up: bool = True  # fire the last tick missed while no worker ran, once, at start-up

    def describe(self) -> str:
        when = f"cron {self.cron!r} in {self.tz}" if self.cron else f"every {self.every_ms} ms"
        return f"schedule {self.name} -> {self.queue}: {when}"

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "cron": self.cron,
            "every_ms": self.every_ms,
            "tz": self.tz,
            "data": self.data,
            "catch_up": self.catch_up,
        }

    @classmethod
    def from_json(cls, name: str, raw: Mapping[str, Any]) -> Schedule:
        return make_schedule(
            name=name,
            queue=raw["queue"],
            cron=raw.get("cron"),
            every=raw.get("every_ms"),
            tz=raw.get("tz", "UTC"),
            data=raw.get("data"),
            catch_up=bool(raw.get("catch_up", True)),
        )


def is_valid_schedule_name(name: object) -> bool:
    return isinstance(name, str) and _NAME_RE.fullmatch(name) is not None


def name_problem(name: object) -> str | None:
    if is_valid_schedule_name(name):
        return None
    return f"schedule name must be a string literal matching {SCHEDULE_NAME_PATTERN}, not {name!r}"


def cron_problem(expr: object) -> str | None:
    """Why ``expr`` is not a cron expression qgen accepts, or None."""
    from croniter import croniter  # type: ignore[import-untyped]

    if not isinstance(expr, str):
        return f"cron must be a string, not {expr!r}"
    fields = expr.split()
    if not expr.startswith("@") and len(fields) != 5:
        return (
            f"invalid cron expression {expr!r}: qgen takes five fields "
            "(minute hour day-of-month month day-of-week) or "
            "@hourly/@daily/@weekly/@monthly/@yearly"
        )
    if not croniter.is_valid(expr):
        return f"invalid cron expression {expr!r}"
    return None


def tz_problem(tz: object) -> str | None:
    if not isinstance(tz, str) or not tz:
        return f"tz must be an IANA time zone name such as 'Europe/Berlin', not {tz!r}"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {tz!r}"
    return None


def every_ms_of(every: object) -> tuple[int | None, str | None]:
    """``every=`` as whole milliseconds, or the problem with it."""
    if isinstance(every, dt.timedelta):
        ms = every / dt.timedelta(milliseconds=1)
    elif isinstance(every, int | float) and not isinstance(every, bool):
        ms = float(every)
    else:
        return None, f"every must be milliseconds or a timedelta, not {every!r}"
    if ms != int(ms) or not MIN_EVERY_MS <= ms <= MAX_EVERY_MS:
        return None, (
            f"every must be whole milliseconds from {MIN_EVERY_MS} to {MAX_EVERY_MS}, not {ms:g}"
        )
    return int(ms), None


def make_schedule(
    *,
    name: str,
    queue: str,
    cron: str | None = None,
    every: object = None,
    tz: str = "UTC",
    data: Any = None,
    catch_up: bool = True,
) -> Schedule:
    """A checked :class:`Schedule`; ConfigError names every problem."""
    problems = [name_problem(name), tz_problem(tz)]
    try:
        validate_queue_name(queue)
    except ConfigError as exc:
        problems.append(str(exc))
    every_ms = None
    if (cron is None) == (every is None):
        problems.append("give exactly one of cron= and every=")
    elif cron is not None:
        problems.append(cron_problem(cron))
    else:
        every_ms, problem = every_ms_of(every)
        problems.append(problem)
    found = [p for p in problems if p is not None]
    if found:
        raise ConfigError(f"schedule {name!r}: " + "; ".join(found))
    return Schedule(name, queue, cron, every_ms, tz, data, catch_up)


_REGISTRY: dict[str, Schedule] = {}


def wire_schedule(
    *,
    name: str,
    queue: str,
    cron: str | None = None,
    every: int | float | dt.timedelta | None = None,
    tz: str = "UTC",
    data: Any = None,
    catch_up: bool = True,
) -> Schedule:
    """Add a job with ``data`` to ``queue`` at every tick of ``cron`` (in ``tz``) or ``every``
    (milliseconds or a timedelta). Every argument must be a literal: ``qgen build`` checks the
    cron expression, the zone, that the queue is wired and that ``data`` matches its input
    schema. ``catch_up=False``: a tick missed while no worker ran is skipped instead of being
    fired once at start-up. Raises ConfigError at once on a bad argument."""
    schedule = make_schedule(
        name=name, queue=queue, cron=cron, every=every, tz=tz, data=data, catch_up=catch_up
    )
    old = _REGISTRY.get(name)
    if old is not None and old != schedule:
        raise ConfigError(f"schedule {name!r} is wired twice, with different arguments")
    _REGISTRY[name] = schedule
    return schedule


def registered_schedules() -> dict[str, Schedule]:
    return dict(_REGISTRY)


def tick_job_id(schedule: Schedule, tick_ms: int) -> str:
    """The job id of one tick: the same in every process, valid on every backend."""
    return f"{JOB_ID_PREFIX}{schedule.name}-{tick_ms}"


def tick_of_job_id(name: str, job_id: str) -> int | None:
    """The tick of a schedule's job id: ``sched-<name>-<ms>``, or ``repeat:<name>:<ms>`` (a
    BullMQ job scheduler's iteration, on Redis)."""
    for prefix in (f"{JOB_ID_PREFIX}{name}-", f"repeat:{name}:"):
        rest = job_id[len(prefix) :] if job_id.startswith(prefix) else ""
        if rest.isdigit():
            return int(rest)
    return None


# -- tick arithmetic --------------------------------------------------------------------------


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _instant(wall: dt.datetime, zone: ZoneInfo) -> int:
    """The instant (epoch ms) a wall time of ``zone`` fires at: its first occurrence, or for a
    wall time in a gap, the end of the gap."""
    first = wall.replace(tzinfo=zone, fold=0)
    utc = first.astimezone(dt.UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == wall:
        return _epoch_ms(first)
    # Not a real wall time: fold=0 reads it with the offset before the gap, which lands after
    # the gap; the gap ends at the transition, the first instant whose offset is the new one.
    before = wall.replace(tzinfo=zone, fold=1)
    lo, hi = int(before.timestamp()), int(first.timestamp())  # old offset at lo, new at hi
    new_offset = utc.astimezone(zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if dt.datetime.fromtimestamp(mid, zone).utcoffset() == new_offset:
            hi = mid
        else:
            lo = mid
    return hi * 1000


def _cron_iter(schedule: Schedule, at_ms: int) -> tuple[Any, ZoneInfo]:
    from croniter import croniter

    zone = ZoneInfo(schedule.tz)
    at = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).astimezone(zone).replace(tzinfo=None)
    return croniter(schedule.cron, at), zone


def next_tick(schedule: Schedule, after_ms: int) -> int:
    """The first tick strictly after ``after_ms``."""
    if schedule.every_ms is not None:
        return (after_ms // schedule.every_ms + 1) * schedule.every_ms
    it, zone = _cron_iter(schedule, after_ms)
    for _ in range(_SCAN_LIMIT):
        tick = _instant(it.get_next(dt.datetime), zone)
        if tick > after_ms:
            return tick
    raise ConfigError(f"{schedule.describe()}: no tick found after {after_ms}")


def prev_tick(schedule: Schedule, at_ms: int) -> int:
    """The last tick at or before ``at_ms``."""
    if schedule.every_ms is not None:
        return at_ms // schedule.every_ms * schedule.every_ms
    it, zone = _cron_iter(schedule, at_ms + 1)
    for _ in range(_SCAN_LIMIT):
        tick = _instant(it.get_prev(dt.datetime), zone)
        if tick <= at_ms:
            return tick
    raise ConfigError(f"{schedule.describe()}: no tick found before {at_ms}")

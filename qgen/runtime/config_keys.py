"""The config keys of ``wire_queue_worker``: types, units, ranges and defaults.

One place, read by the runtime (``wire_queue_worker`` validates and normalizes) and by the
scanner (the same checks, as build diagnostics). Durations may be given as ``timedelta``;
they are normalized to the key's unit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from qgen.runtime.errors import ConfigError
from qgen.runtime.names import is_valid_queue_name

# Limits shared by config (build and start-up) and add options, the same on every backend.
# The longest delay or backoff: far beyond any real use, and inside every backend's range
# (PostgreSQL intervals, BullMQ's millisecond scores, SQLite's float seconds).
MAX_DELAY_S = 10 * 365 * 86_400
MAX_DELAY_MS = MAX_DELAY_S * 1000
# Priorities: the Redis backend maps them onto BullMQ's 1 .. 2**21, the narrowest range.
MIN_PRIORITY, MAX_PRIORITY = -(2**20), 2**20 - 1
MAX_ATTEMPTS = 1000  # SQS redrive's maxReceiveCount is at most 1000
MAX_COUNT = 2**31 - 1  # any other count: within every backend's integer columns

Unit = Literal["ms", "s", "count", "keep", "bool", "str", "backoff", "queue"]


@dataclass(frozen=True, slots=True)
class KeySpec:
    unit: Unit
    doc: str
    minimum: float | None = None
    maximum: float | None = None


CONFIG_KEYS: dict[str, KeySpec] = {
    "batch_size": KeySpec("count", "jobs run in parallel by one worker process", 1, 10_000),
    "prefetch": KeySpec("count", "jobs fetched per round trip (defaults to batch_size)", 1, 10_000),
    "poll_interval": KeySpec(
        "ms", "how often an idle worker polls when it cannot be woken", 1, 3_600_000
    ),
    "visibility_timeout": KeySpec("s", "lease of a running job, renewed by heartbeats", 1, 43_200),
    "lock_duration": KeySpec(
        "ms", "lock of a running job (BullMQ), renewed while it runs", 1, 86_400_000
    ),
    "drain_delay": KeySpec("s", "long-poll wait of an idle worker", 0, 3_600),
    "remove_on_complete": KeySpec(
        "keep", "completed jobs kept: a count, {age: s, count: n}, True (none) or False (all)"
    ),
    "remove_on_fail": KeySpec(
        "keep", "failed jobs kept: a count, {age: s, count: n}, True (none) or False (all)"
    ),
    "max_stalled_count": KeySpec(
        "count", "times a job may be recovered from a dead worker", 0, 1_000
    ),
    "name": KeySpec("str", "worker name, shown in logs and backend tooling"),
    "autorun": KeySpec("bool", "start consuming when the worker starts"),
    "attempts": KeySpec("count", "total tries of a job, the first included", 1, MAX_ATTEMPTS),
    "backoff": KeySpec("backoff", "delay between tries: {type, delay ms, max_delay ms, jitter}"),
    "dead_letter": KeySpec("queue", "queue that receives a copy of each job that failed for good"),
    "timeout": KeySpec("s", "an attempt running longer fails", 0.001, MAX_DELAY_S),
}

BACKOFF_KEYS = ("type", "delay", "max_delay", "jitter")
KEEP_KEYS = ("age", "count")  # BullMQ's KeepJobs
BACKOFF_TYPES = ("fixed", "exponential")

_UNIT_SECONDS = {"ms": 1000.0, "s": 1.0}


def check_value(key: str, value: Any) -> tuple[Any, str | None]:
    """Normalize one config value. Returns (normalized, None) or (None, error message)."""
    spec = CONFIG_KEYS.get(key)
    if spec is None:
        known = ", ".join(sorted(CONFIG_KEYS))
        return None, f"unknown config key {key!r} (known keys: {known})"
    if spec.unit in ("ms", "s"):
        if isinstance(value, dt.timedelta):
            value = value.total_seconds() * _UNIT_SECONDS[spec.unit]
            if value == int(value):
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"{key} must be a number ({spec.unit}) or a timedelta, not {value!r}"
        return _range(key, value, spec)
    if spec.unit == "keep":
        return check_keep(value, key)
    if spec.unit == "count":
        if isinstance(value, bool) or not isinstance(value, int):
            return None, f"{key} must be an integer, not {value!r}"
        return _range(key, value, spec)
    if spec.unit == "bool":
        if not isinstance(value, bool):
            return None, f"{key} must be True or False, not {value!r}"
        return value, None
    if spec.unit == "str":
        if not isinstance(value, str) or not value or len(value) > 200:
            return None, f"{key} must be a non-empty string of at most 200 characters"
        return value, None
    if spec.unit == "queue":
        if not is_valid_queue_name(value):
            return None, f"{key} must be a valid queue name, not {value!r}"
        return value, None
    return check_backoff(value, key)


def check_backoff(value: Any, key: str = "backoff") -> tuple[Any, str | None]:
    if not isinstance(value, Mapping):
        return None, f"{key} must be a dict like {{'type': 'exponential', 'delay': 1000}}"
    unknown = set(value) - set(BACKOFF_KEYS)
    if unknown:
        return None, f"{key} has unknown keys {sorted(unknown)} (known: {list(BACKOFF_KEYS)})"
    out: dict[str, Any] = {}
    kind = value.get("type", "exponential")
    if kind not in BACKOFF_TYPES:
        return None, f"{key}.type must be 'fixed' or 'exponential', not {kind!r}"
    out["type"] = kind
    for k in ("delay", "max_delay"):
        if k in value:
            v = value[k]
            if isinstance(v, dt.timedelta):
                v = int(v.total_seconds() * 1000)
            if isinstance(v, bool) or not isinstance(v, int | float) or not _finite(v):
                return None, f"{key}.{k} must be a number of ms or a timedelta, not {v!r}"
            if not 0 <= v <= MAX_DELAY_MS:
                return None, f"{key}.{k} must be from 0 to {MAX_DELAY_MS} ms (10 years), not {v!r}"
            out[k] = v
    out.setdefault("delay", 1000)
    if "jitter" in value:
        j = value["jitter"]
        if isinstance(j, bool) or not isinstance(j, int | float) or not 0 <= j <= 1:
            return None, f"{key}.jitter must be a number from 0 to 1, not {j!r}"
        out["jitter"] = j
    return out, None


def check_keep(value: Any, key: str) -> tuple[Any, str | None]:
    """remove_on_*: True (keep none), False (keep all), a count, or BullMQ's KeepJobs
    ``{"age": seconds, "count": n}`` (either key or both; age as a timedelta too)."""
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int):
        return _range(key, value, KeySpec("count", "", 0, MAX_COUNT))
    if not isinstance(value, Mapping):
        return None, (
            f"{key} must be a count, True, False or {{'age': seconds, 'count': n}}, not {value!r}"
        )
    unknown = set(value) - set(KEEP_KEYS)
    if unknown or not value:
        return None, f"{key} takes the keys 'age' and/or 'count', not {sorted(map(str, value))}"
    out: dict[str, Any] = {}
    if "age" in value:
        age = value["age"]
        if isinstance(age, dt.timedelta):
            age = age.total_seconds()
            age = int(age) if age == int(age) else age
        if isinstance(age, bool) or not isinstance(age, int | float):
            return None, f"{key}.age must be seconds or a timedelta, not {age!r}"
        out["age"], problem = _range(f"{key}.age", age, KeySpec("s", "", 0, MAX_DELAY_S))
        if problem:
            return None, problem
    if "count" in value:
        count = value["count"]
        if isinstance(count, bool) or not isinstance(count, int):
            return None, f"{key}.count must be an integer, not {count!r}"
        out["count"], problem = _range(f"{key}.count", count, KeySpec("count", "", 0, MAX_COUNT))
        if problem:
            return None, problem
    return out, None


def _finite(value: float) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _range(key: str, value: float, spec: KeySpec) -> tuple[Any, str | None]:
    if not _finite(value):
        return None, f"{key} must be a finite number, not {value!r}"
    if spec.minimum is not None and value < spec.minimum:
        return None, f"{key} must be >= {spec.minimum:g}, not {value!r}"
    if spec.maximum is not None and value > spec.maximum:
        return None, f"{key} must be <= {spec.maximum:g}, not {value!r}"
    return value, None


def check_delay(delay: object) -> float:
    """An add's ``delay`` (seconds or a timedelta) -> seconds; ConfigError when it is not a
    finite number from 0 to :data:`MAX_DELAY_S`."""
    seconds: float
    if isinstance(delay, dt.timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, int | float) and not isinstance(delay, bool):
        seconds = delay  # a huge int compares exactly; converting it could overflow
    else:
        raise ConfigError(f"delay must be seconds or a timedelta, not {delay!r}")
    if not 0 <= seconds <= MAX_DELAY_S:  # also refuses NaN and infinities
        raise ConfigError(f"delay must be from 0 to {MAX_DELAY_S} s (10 years), not {delay!r}")
    return float(seconds)


def check_priority(priority: object) -> int:
    """An add's ``priority``: an integer from :data:`MIN_PRIORITY` to :data:`MAX_PRIORITY`."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(f"priority must be an integer, not {priority!r}")
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise ConfigError(
            f"priority must be from {MIN_PRIORITY} to {MAX_PRIORITY} (2**20 - 1), not {priority}"
        )
    return priority


def check_attempts(attempts: object) -> int:
    """An add's ``attempts``: an integer from 1 to :data:`MAX_ATTEMPTS`, as in config."""
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise ConfigError(f"attempts must be an integer, not {attempts!r}")
    if not 1 <= attempts <= MAX_ATTEMPTS:
        raise ConfigError(f"attempts must be from 1 to {MAX_ATTEMPTS}, not {attempts}")
    return attempts


def normalize_config(queue: str, raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate every key; raise one ConfigError listing all problems."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in (raw or {}).items():
        norm, err = check_value(key, value)
        if err:
            problems.append(err)
        else:
            out[key] = norm
    if problems:
        raise ConfigError(f"queue {queue!r}: " + "; ".join(problems))
    return out

"""Typed queue settings: a queue's config resolved once, for one backend, with every default.

A queue's config (``wire_queue_worker``'s dict, as the manifest keeps it) is validated and
resolved into a frozen :class:`QueueSettings` when a backend is opened or a worker starts. Every
key then has a typed value: the one given, else the backend's default from the capability
table (``capabilities.CONFIG_SUPPORT``), the only home of defaults. Backends, consumers and the
runner read these fields; none of them looks a config key up by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from qgen.runtime import capabilities
from qgen.runtime.config_keys import CONFIG_KEYS, normalize_config

Keep = bool | int | None  # remove_on_*: True keeps none, False/None keeps all, n keeps n


@dataclass(frozen=True, slots=True)
class Retention:
    """Finished jobs a queue keeps (remove_on_complete / remove_on_fail, defaults included):
    none older than ``age`` seconds and at most the newest ``count``; None: no limit."""

    age: float | None = None
    count: int | None = None

    @property
    def keeps_all(self) -> bool:
        return self.age is None and self.count is None

    def to_config(self) -> bool | int | dict[str, Any]:
        """Back to the config key's form."""
        if self.keeps_all:
            return False
        if self.age is None:
            return True if self.count == 0 else int(self.count or 0)
        age = int(self.age) if self.age == int(self.age) else self.age
        return {"age": age} if self.count is None else {"age": age, "count": self.count}

    def to_bull(self) -> bool | int | dict[str, int]:
        """BullMQ's removeOnComplete/removeOnFail job option (KeepJobs age in seconds)."""
        if self.keeps_all:
            return False
        if self.count == 0:
            return True
        if self.age is None:
            return int(self.count or 0)
        out = {"age": max(1, round(self.age))}
        if self.count is not None:
            out["count"] = self.count
        return out


def retention(value: Any) -> Retention:
    """A normalized remove_on_* value (config_keys.check_keep) as a :class:`Retention`."""
    if value is None or value is False:
        return Retention()
    if value is True:
        return Retention(count=0)
    if isinstance(value, int):
        return Retention(count=max(0, value))
    age, count = value.get("age"), value.get("count")
    return Retention(None if age is None else float(age), None if count is None else int(count))


def _count_view(value: Any) -> Keep:
    """A given remove_on_* as a count (the form backends read before ages existed)."""
    if isinstance(value, Mapping):
        count = value.get("count")
        return None if count is None else int(count)
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """One queue's config on one backend, every key typed and defaulted (units as the keys)."""

    name: str  # the queue
    backend: str
    batch_size: int
    prefetch: int
    poll_interval: float  # ms
    visibility_timeout: float  # s
    lock_duration: int  # ms
    drain_delay: float  # s
    # The count form of a *given* remove_on_* (None when unset, ages left out): what backends
    # read before retention had ages and defaults. Read the retentions below instead.
    remove_on_complete: Keep
    remove_on_fail: Keep
    max_stalled_count: int
    worker_name: str | None  # the ``name`` key
    autorun: bool
    attempts: int
    backoff: Mapping[str, Any]  # normalized: type, delay, optional max_delay and jitter
    dead_letter: str | None
    timeout: float | None  # s
    given: frozenset[str]  # the keys the config set; the others are defaults
    # Retention with ages (issue 14): completed, and failed/discarded/cancelled jobs kept.
    completed_retention: Retention = Retention()
    failed_retention: Retention = Retention()

    @property
    def keep_completed(self) -> int | None:
        """Completed jobs to keep: None keeps all, 0 none."""
        return keep_count(self.remove_on_complete)

    @property
    def keep_failed(self) -> int | None:
        return keep_count(self.remove_on_fail)

    def describe(self) -> str:
        """The keys this backend honours, ``key=value``, defaults marked: the start-up log."""
        parts = []
        for key in CONFIG_KEYS:
            if not capabilities.config_support(key, self.backend).supported:
                continue
            value = config_value(self, key)
            if value is None:
                continue
            text = f"{key}={capabilities.describe_value(key, value)}"
            parts.append(text if key in self.given else text + " (default)")
        return ", ".join(parts)


_FIELD = {
    "name": "worker_name",
    "remove_on_complete": "completed_retention",
    "remove_on_fail": "failed_retention",
}


def config_value(settings: QueueSettings, key: str) -> Any:
    """A key's value in its config form."""
    value = getattr(settings, _FIELD.get(key, key))
    return value.to_config() if isinstance(value, Retention) else value


def keep_count(value: Keep) -> int | None:
    """remove_on_* -> jobs to keep (0: delete at once), None: keep all."""
    if value is None or value is False:
        return None
    if value is True:
        return 0
    return max(0, int(value))


def resolve(name: str, config: Mapping[str, Any] | None, backend: str) -> QueueSettings:
    """Validate ``config`` (raising ConfigError) and give every key its value on ``backend``."""
    given = normalize_config(name, config)

    def value(key: str) -> Any:
        if key in given:
            return given[key]
        default = capabilities.default(key, backend)
        if isinstance(default, capabilities.SameAs):
            return value(default.key)
        return default

    timeout = value("timeout")
    return QueueSettings(
        name=name,
        backend=backend,
        batch_size=int(value("batch_size")),
        prefetch=int(value("prefetch")),
        poll_interval=float(value("poll_interval")),
        visibility_timeout=float(value("visibility_timeout")),
        lock_duration=int(value("lock_duration")),
        drain_delay=float(value("drain_delay")),
        remove_on_complete=_count_view(given.get("remove_on_complete")),
        remove_on_fail=_count_view(given.get("remove_on_fail")),
        max_stalled_count=int(value("max_stalled_count")),
        worker_name=value("name"),
        autorun=bool(value("autorun")),
        attempts=int(value("attempts")),
        backoff=MappingProxyType(dict(value("backoff"))),
        dead_letter=value("dead_letter"),
        timeout=None if timeout is None else float(timeout),
        given=frozenset(given),
        completed_retention=retention(value("remove_on_complete")),
        failed_retention=retention(value("remove_on_fail")),
    )


QueueConfigs = Mapping[str, "QueueSettings | Mapping[str, Any]"]


def resolve_all(queues: QueueConfigs, backend: str) -> dict[str, QueueSettings]:
    """Settings of every queue: the ones already resolved for ``backend`` are kept as they are."""
    out: dict[str, QueueSettings] = {}
    for name, config in queues.items():
        if isinstance(config, QueueSettings) and config.backend == backend:
            out[name] = config
        elif isinstance(config, QueueSettings):
            out[name] = resolve(name, {k: _given(config, k) for k in config.given}, backend)
        else:
            out[name] = resolve(name, config, backend)
    return out


def for_backend(queues: Sequence[QueueSettings], backend: str) -> list[QueueSettings]:
    """``queues`` as settings of ``backend`` (the ones resolved for another are resolved again
    from the keys their config gave)."""
    return list(resolve_all({s.name: s for s in queues}, backend).values())


def _given(settings: QueueSettings, key: str) -> Any:
    value = config_value(settings, key)
    return dict(value) if isinstance(value, Mapping) else value


class SettingsBook:
    """The settings a backend was opened with, plus defaults for queues it was not told about
    (a dead-letter queue, a queue added by name only), each resolved once."""

    def __init__(self, queues: QueueConfigs, backend: str) -> None:
        self.backend = backend
        self._known = resolve_all(queues, backend)
        self._defaults: dict[str, QueueSettings] = {}

    def __getitem__(self, queue: str) -> QueueSettings:
        settings = self._known.get(queue) or self._defaults.get(queue)
        if settings is None:
            settings = self._defaults[queue] = resolve(queue, None, self.backend)
        return settings

    def __contains__(self, queue: str) -> bool:
        return queue in self._known

    def known(self) -> dict[str, QueueSettings]:
        """The queues the backend was told about (by open or by a consumer), by name."""
        return dict(self._known)

    def learn(self, settings: QueueSettings) -> None:
        """A queue a consumer was given; the settings the backend was opened with win."""
        if settings.name not in self._known:
            self._known[settings.name] = settings
            self._defaults.pop(settings.name, None)

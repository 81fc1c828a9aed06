"""Typed settings: a queue's config resolved once per backend, every default from the
capability table."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from qgen.runtime import capabilities
from qgen.runtime.config_keys import CONFIG_KEYS
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import (
    QueueSettings,
    Retention,
    SettingsBook,
    config_value,
    for_backend,
    keep_count,
    resolve,
    resolve_all,
)


@pytest.mark.parametrize("backend", capabilities.BACKENDS)
def test_every_key_has_a_typed_value_on_every_backend(backend: str) -> None:
    settings = resolve("q", {}, backend)
    fields = {f.name for f in dataclasses.fields(QueueSettings)}
    for key in CONFIG_KEYS:
        assert ("worker_name" if key == "name" else key) in fields
    assert settings.given == frozenset()
    assert isinstance(settings.batch_size, int) and settings.batch_size == 10
    assert settings.prefetch == settings.batch_size  # "defaults to batch_size"
    assert isinstance(settings.poll_interval, float)
    assert isinstance(settings.visibility_timeout, float)
    assert isinstance(settings.lock_duration, int)
    assert settings.attempts == 3
    assert dict(settings.backoff) == {"type": "exponential", "delay": 1000}


def test_defaults_per_backend_come_from_the_capability_table() -> None:
    assert resolve("q", None, "sqlite").poll_interval == 100.0
    assert resolve("q", None, "postgres").poll_interval == 2000.0
    for backend in capabilities.BACKENDS:
        for key in CONFIG_KEYS:
            cell = capabilities.CONFIG_SUPPORT[key][backend]
            if not cell.supported or cell.default is None:
                continue
            value = config_value(resolve("q", None, backend), key)
            expected = cell.default
            if isinstance(expected, capabilities.SameAs):
                expected = getattr(resolve("q", None, backend), expected.key)
            assert value == expected, (backend, key)


def test_retention_takes_counts_ages_and_bools_and_defaults_to_bounded() -> None:
    s = resolve("q", None, "sqlite")
    assert s.completed_retention == Retention(age=86_400, count=1_000)
    assert s.failed_retention == Retention(age=7 * 86_400)
    assert (s.keep_completed, s.keep_failed) == (None, None)  # the count view: given only
    given = {"remove_on_complete": {"age": dt.timedelta(hours=1)}, "remove_on_fail": 5}
    s = resolve("q", given, "postgres")
    assert s.completed_retention == Retention(age=3_600)
    assert s.failed_retention == Retention(count=5)
    assert resolve("q", {"remove_on_complete": True}, "redis").completed_retention.to_bull()
    assert resolve("q", {"remove_on_complete": False}, "redis").completed_retention.keeps_all
    assert Retention(age=3_600, count=10).to_bull() == {"age": 3_600, "count": 10}
    # re-resolved for another backend from its given keys: the age survives
    (again,) = for_backend([s], "sqlite")
    assert again.completed_retention == Retention(age=3_600)


@pytest.mark.parametrize(
    "value",
    [{"age": -1}, {"count": 1.5}, {"ages": 3}, {}, "1d", {"age": float("nan")}, -3, 2**40],
)
def test_bad_retention_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match="remove_on_complete"):
        resolve("q", {"remove_on_complete": value}, "sqlite")


def test_given_values_win_and_are_typed() -> None:
    s = resolve("q", {"batch_size": 4, "prefetch": 7, "visibility_timeout": 12, "name": "w"}, "sqs")
    assert (s.batch_size, s.prefetch, s.visibility_timeout, s.worker_name) == (4, 7, 12.0, "w")
    assert s.given == frozenset({"batch_size", "prefetch", "visibility_timeout", "name"})
    assert resolve("q", {"batch_size": 3}, "redis").prefetch == 3


def test_bad_config_is_refused_with_the_queue_named() -> None:
    with pytest.raises(ConfigError, match=r"queue 'q'.*batch_size"):
        resolve("q", {"batch_size": 0}, "sqlite")
    with pytest.raises(ConfigError, match="unknown config key"):
        resolve("q", {"batchsize": 3}, "sqlite")


def test_settings_are_frozen() -> None:
    s = resolve("q", {}, "sqlite")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.batch_size = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.backoff["delay"] = 5  # type: ignore[index]


@pytest.mark.parametrize(
    ("value", "kept"), [(None, None), (False, None), (True, 0), (0, 0), (25, 25)]
)
def test_remove_on_keys_become_keep_counts(value: bool | int | None, kept: int | None) -> None:
    assert keep_count(value) == kept
    s = resolve("q", {} if value is None else {"remove_on_complete": value}, "postgres")
    assert s.keep_completed == kept


def test_resolving_for_another_backend_keeps_only_what_the_config_gave() -> None:
    sqlite = resolve("q", {"batch_size": 2}, "sqlite")
    again = resolve_all({"q": sqlite, "r": {"attempts": 5}}, "postgres")
    assert again["q"].backend == "postgres" and again["q"].batch_size == 2
    assert again["q"].poll_interval == 2000.0  # postgres's default, not sqlite's 100
    assert again["r"].attempts == 5
    same = resolve_all({"q": sqlite}, "sqlite")
    assert same["q"] is sqlite


def test_a_book_defaults_unknown_queues_once_and_learns_given_ones() -> None:
    book = SettingsBook({"known": {"attempts": 7}}, "redis")
    assert book["known"].attempts == 7
    assert book["dead"].attempts == 3 and book["dead"] is book["dead"]
    assert "dead" not in book
    book.learn(resolve("dead", {"attempts": 9}, "redis"))
    assert book["dead"].attempts == 9
    book.learn(resolve("known", {"attempts": 1}, "redis"))  # what the backend was opened with wins
    assert book["known"].attempts == 7


def test_describe_shows_honoured_keys_and_marks_defaults() -> None:
    text = resolve("q", {"batch_size": 4, "lock_duration": 9000}, "sqlite").describe()
    assert "batch_size=4," in text and "batch_size=4 (default)" not in text
    assert "poll_interval=100 ms (default)" in text
    assert "lock_duration" not in text  # SQLite ignores it
    assert "backoff=exponential, 1000 ms (default)" in text

"""Issue 10 item 10: NaN, infinite and huge values of ``delay``, ``priority``, ``attempts`` and
``backoff`` are refused in one place, with the same ConfigError on every backend, before
anything is written (add options); config gets the same limits at start-up and at build."""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hostile_app.jobs import Item, seen
from hostile_harness import HostileCase, eventually, worker

from qgen.cli import main as qgen_main
from qgen.runtime.config_keys import (
    CONFIG_KEYS,
    MAX_ATTEMPTS,
    MAX_PRIORITY,
    MIN_PRIORITY,
    check_value,
)
from qgen.runtime.errors import ConfigError
from qgen.runtime.wiring import wire_queue_worker

INF, NAN = float("inf"), float("nan")
BAD_OPTIONS: list[dict[str, Any]] = [
    {"delay": INF},
    {"delay": NAN},
    {"delay": 1e300},
    {"delay": 10**400},
    {"delay": -1},
    {"delay": dt.timedelta(days=365 * 11)},
    {"priority": 2**40},
    {"priority": 2**70},
    {"priority": -(2**21)},
    {"attempts": 2**40},
    {"attempts": MAX_ATTEMPTS + 1},
    {"backoff": {"type": "fixed", "delay": INF}},
    {"backoff": {"type": "fixed", "delay": 1e300}},
    {"backoff": {"type": "exponential", "delay": 10, "max_delay": NAN}},
    {"backoff": {"type": "exponential", "delay": 10, "jitter": NAN}},
]


def _option_error(options: dict[str, Any]) -> str:
    """The message the option check gives, without any backend."""
    from qgen.runtime.payloads import add_options

    with pytest.raises(ConfigError) as info:
        add_options(**options)
    return str(info.value)


async def test_bad_option_values_are_refused_alike(backend: HostileCase) -> None:
    client = backend.client()
    queue = client.queue("h-record")
    try:
        for options in BAD_OPTIONS:
            expected = _option_error(options)
            (name,) = options
            assert name in expected
            with pytest.raises(ConfigError) as info:
                await queue.add(Item(key=f"bad-{name}"), **options)
            assert str(info.value) == expected
            with pytest.raises(ConfigError) as info:
                await queue.add_many([Item(key=f"bad-many-{name}")], **options)
            assert str(info.value) == expected
        # the limits themselves are accepted on every backend
        edges = [
            {"priority": MAX_PRIORITY},
            {"priority": MIN_PRIORITY},
            {"attempts": MAX_ATTEMPTS},
            {"backoff": {"type": "exponential", "delay": 1, "max_delay": 2, "jitter": 1}},
        ]
        for i, options in enumerate(edges):
            await queue.add(Item(key=f"edge-{i}"), **options)
        async with worker(backend, ["h-record"]) as task:
            await eventually(
                lambda: sorted(seen("h-record")),
                lambda s: s == [f"edge-{i}" for i in range(len(edges))],
                worker_task=task,
                what="only the jobs with valid options",
            )
    finally:
        await client.close()


@pytest.mark.parametrize("key", sorted(k for k, s in CONFIG_KEYS.items() if s.unit in ("ms", "s")))
@pytest.mark.parametrize("value", [INF, -INF, NAN, 1e300])
def test_config_durations_must_be_finite_and_bounded(key: str, value: float) -> None:
    norm, problem = check_value(key, value)
    assert norm is None and problem is not None and key in problem


@pytest.mark.parametrize(
    "config",
    [
        {"backoff": {"delay": INF}},
        {"backoff": {"delay": 1e300}},
        {"backoff": {"max_delay": NAN}},
        {"remove_on_complete": 2**70},
        {"max_stalled_count": 2**40},
        {"timeout": INF},
    ],
)
def test_config_refused_at_start_up(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        wire_queue_worker(queue="h-never", func=lambda s, d: None, config=config)


def test_config_refused_at_build(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n[tool.qgen]\nsource = ["app"]\nout = "app/generated"\n'
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "jobs.py").write_text(
        textwrap.dedent(
            """
            from qgen import sessionless_func, wire_queue_worker

            @sessionless_func()
            async def work(services: object, data: int) -> None: ...

            wire_queue_worker(
                queue="work",
                func=work,
                config={
                    "poll_interval": 1e309,
                    "timeout": 1e309,
                    "backoff": {"type": "fixed", "delay": 1e300},
                    "max_stalled_count": 1000000000000000000000000000000,
                },
            )
            """
        )
    )
    out, err = io.StringIO(), io.StringIO()
    code = qgen_main(["build", "--project", str(tmp_path)], out=out, err=err)
    text = err.getvalue()
    assert code == 2, text
    for key in ("poll_interval", "timeout", "backoff.delay", "max_stalled_count"):
        assert f"QG111 {key}" in text, text
    assert not (tmp_path / "app" / "generated").exists()

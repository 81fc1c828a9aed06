from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qgen.runtime.errors import ConfigError
from qgen.runtime.services import load_object, open_services

EVENTS: list[str] = []


def plain() -> dict[str, str]:
    EVENTS.append("plain")
    return {"kind": "plain"}


async def coroutine() -> dict[str, str]:
    EVENTS.append("coroutine")
    return {"kind": "coroutine"}


@contextlib.contextmanager
def sync_cm() -> Iterator[dict[str, str]]:
    EVENTS.append("enter")
    yield {"kind": "sync_cm"}
    EVENTS.append("exit")


@contextlib.asynccontextmanager
async def async_cm() -> AsyncIterator[dict[str, str]]:
    EVENTS.append("aenter")
    yield {"kind": "async_cm"}
    EVENTS.append("aexit")


async def bare_async_gen() -> AsyncIterator[dict[str, str]]:
    EVENTS.append("gen-start")
    yield {"kind": "gen"}
    EVENTS.append("gen-end")


async def broken() -> None:
    raise OSError("database is down")


@pytest.fixture(autouse=True)
def module() -> Iterator[str]:
    name = "qgen_test_services_mod"
    mod = types.ModuleType(name)
    for f in (plain, coroutine, sync_cm, async_cm, bare_async_gen, broken):
        setattr(mod, f.__name__, f)
    sys.modules[name] = mod
    EVENTS.clear()
    yield name
    del sys.modules[name]


@pytest.mark.parametrize(
    ("attr", "kind", "events"),
    [
        ("plain", "plain", ["plain"]),
        ("coroutine", "coroutine", ["coroutine"]),
        ("sync_cm", "sync_cm", ["enter", "exit"]),
        ("async_cm", "async_cm", ["aenter", "aexit"]),
        ("bare_async_gen", "gen", ["gen-start", "gen-end"]),
    ],
)
async def test_factory_kinds(module: str, attr: str, kind: str, events: list[str]) -> None:
    async with contextlib.AsyncExitStack() as stack:
        services: Any = await open_services(f"{module}:{attr}", stack)
        assert services == {"kind": kind}
        assert events[:1] == EVENTS
    assert events == EVENTS


async def test_no_factory_is_none() -> None:
    async with contextlib.AsyncExitStack() as stack:
        assert await open_services(None, stack) is None


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_colon", "module:name"),
        ("qgen_no_such_module_x:f", "cannot import"),
        ("qgen_test_services_mod:missing", "has no"),
    ],
)
def test_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_object(spec)


async def test_failing_factory_is_a_config_error(module: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        with pytest.raises(ConfigError, match="failed: OSError: database is down"):
            await open_services(f"{module}:broken", stack)

"""The worker's background loops (schedules, scheduler store, tick relay, metrics sampler) end
when cancelled, even when a client call under them swallows the cancellation or turns it into
an error of its own (redis-py turns a cancelled connect into TimeoutError; a backend that
catches it and returns, or a loop that catches ``Exception`` and goes on, loses the stop, and
the worker waits for the loop forever). The heartbeat's case: tests/unit/test_presence.py; the
backends' loops: tests/consumers/test_backend_loops_cancel.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from support.lost_cancel import MODES, Call
from support.lost_cancel import stops_when_cancelled as _stops_when_cancelled

from qgen.runtime.schedule_runner import ScheduleRunner, StoreRunner
from qgen.runtime.schedules import Schedule
from qgen.runtime.telemetry.metrics import Sampler

DAILY = Schedule("daily", "q", None, 86_400_000, "UTC", {"n": 1})


def _relay(hanging: str, mode: str) -> tuple[Any, Call]:
    calls = {name: Call(mode, hang=name == hanging) for name in ("start", "fire", "relay_once")}
    calls["relay_once"].result = 0
    relay = SimpleNamespace(**calls)
    return relay, calls[hanging]


@pytest.mark.parametrize("mode", MODES)
async def test_schedule_runner_ends_when_an_add_loses_the_cancel(mode: str) -> None:
    add = Call(mode, result="job")
    runner = ScheduleRunner(SimpleNamespace(enqueue=add), [DAILY])  # type: ignore[arg-type]
    await _stops_when_cancelled(runner.run(), add)  # during the start-up catch-up fire
    assert add.calls == 1


@pytest.mark.parametrize("hanging", ["start", "fire", "relay_once"])
@pytest.mark.parametrize("mode", MODES)
async def test_schedule_runner_ends_when_its_relay_loses_the_cancel(
    mode: str, hanging: str
) -> None:
    relay, call = _relay(hanging, mode)
    add = Call(mode, hang=False)
    runner = ScheduleRunner(SimpleNamespace(enqueue=add), [DAILY], relay=relay)  # type: ignore[arg-type]
    await _stops_when_cancelled(runner.run(), call)
    assert call.calls == 1


@pytest.mark.parametrize("hanging", ["sync", "advance"])
@pytest.mark.parametrize("mode", MODES)
async def test_store_runner_ends_when_its_store_loses_the_cancel(mode: str, hanging: str) -> None:
    calls = {name: Call(mode, hang=name == hanging) for name in ("sync", "advance", "close")}
    store = SimpleNamespace(**calls)
    runner = StoreRunner(store, [DAILY], {"daily": "q"}, ["q"])  # type: ignore[arg-type]
    await _stops_when_cancelled(runner.run(), calls[hanging])
    assert calls[hanging].calls == 1


@pytest.mark.parametrize("hanging", ["counts", "oldest_waiting"])
@pytest.mark.parametrize("mode", MODES)
async def test_metrics_sampler_ends_when_a_read_loses_the_cancel(mode: str, hanging: str) -> None:
    counts = Call(mode, result=SimpleNamespace(waiting=0), hang=hanging == "counts")
    oldest = Call(mode, result=None, hang=hanging == "oldest_waiting")
    conn = SimpleNamespace(counts=counts, oldest_waiting=oldest)
    sampler = Sampler(conn, "sqlite", ["unit-cancel"], interval=0.05)  # type: ignore[arg-type]
    hung = counts if hanging == "counts" else oldest
    await _stops_when_cancelled(sampler.run(), hung)
    assert hung.calls == 1
    assert sampler.counts_ok and sampler.oldest_ok  # a lost cancel is not "unsupported"

"""Exactly once per tick with three worker processes on every backend: an ``every=400``
schedule over more than 20 ticks, job runs counted by id across the processes. On SQS the
schedule is on a standard queue, which cannot deduplicate: the ticks go through the FIFO claim
queue (``backends/sqs/schedules.py``)."""

from __future__ import annotations

import importlib
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import sched_project

from qgen.runtime.capabilities import BACKENDS, Feature, feature
from qgen.runtime.schedules import tick_of_job_id

TICKS = 22
EVERY = 400


def _wait_for(probe, ok, timeout: float, procs) -> object:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    value = probe()
    while not ok(value):
        for p in procs:
            if p.poll() is not None:
                out = p.stdout.read().decode(errors="replace") if p.stdout else ""
                raise AssertionError(f"a worker exited ({p.returncode}):\n{out[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last value: {value!r}")
        time.sleep(0.1)
        value = probe()
    return value


@pytest.mark.parametrize("backend", BACKENDS)
def test_three_workers_fire_each_tick_once(backend: str, tmp_path: Path) -> None:
    provider = importlib.import_module(f"support.{backend}")
    queue, name = "ticks", "fast"
    log = tmp_path / "runs.log"
    with provider.backend_url(tmp_path) as url:
        procs = [sched_project.worker(backend, url, [queue], log) for _ in range(3)]
        try:
            _wait_for(
                lambda: len(set(sched_project.runs(log))),
                lambda n: n >= TICKS,
                timeout=120,
                procs=procs,
            )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            outputs = [p.communicate(timeout=60)[0].decode(errors="replace") for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
    for out in outputs:  # no tick failed to be added, claimed or relayed
        assert "WARNING qgen.schedules" not in out, out[-3000:]
    ids = sched_project.runs(log)
    ticks = [tick_of_job_id(name, i) for i in ids]
    assert None not in ticks, ids
    per_tick = Counter(ticks)
    first, last = min(per_tick), max(per_tick)
    assert sorted(per_tick) == list(range(first, last + EVERY, EVERY)), "a tick was skipped"
    assert len(per_tick) >= TICKS
    assert feature(Feature.SCHEDULES, backend).supported
    assert max(per_tick.values()) == 1, f"a tick ran twice: {sorted(ids)}"

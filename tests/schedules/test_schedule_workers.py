"""Once per tick with three worker processes on every backend: an ``every=400`` schedule over
more than 20 ticks, job runs counted by id across the processes.

SQS deduplicates only on FIFO queues (the capability table's ``job_id`` row), so there the
schedule on the FIFO queue is the one served. Its ``schedules`` cell is "emulated": on AWS a
FIFO queue keeps one message per deduplication id for 5 minutes, but moto (the test server)
deduplicates only against messages still in the queue, and without a lock, so a tick that a
second worker sends after the first copy was received and deleted runs again. There the test
asserts what holds on moto too: every tick ran, and at most once per worker process."""

from __future__ import annotations

import importlib
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import sched_project

from qgen.runtime.capabilities import BACKENDS, Feature, Level, feature, supports
from qgen.runtime.schedules import tick_of_job_id

TICKS = 22
EVERY = 400


def _served(backend: str) -> tuple[str, str]:
    """(queue, schedule) of the test on ``backend``."""
    if supports(Feature.JOB_ID, backend):
        return "ticks", "fast"
    return "ticks.fifo", "fast-fifo"


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
    queue, name = _served(backend)
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
    ids = sched_project.runs(log)
    ticks = [tick_of_job_id(name, i) for i in ids]
    assert None not in ticks, ids
    per_tick = Counter(ticks)
    first, last = min(per_tick), max(per_tick)
    assert sorted(per_tick) == list(range(first, last + EVERY, EVERY)), "a tick was skipped"
    assert len(per_tick) >= TICKS
    if feature(Feature.SCHEDULES, backend).level is Level.NATIVE:
        assert max(per_tick.values()) == 1, f"a tick ran twice: {sorted(ids)}"
    else:
        assert max(per_tick.values()) <= 3, f"a tick ran more than once per worker: {ids}"

"""The worker's ``/metrics`` (``--metrics-port``), scraped after a known mix of outcomes: the
same names, labels and exact counts on every backend; the sampled queue gauges where the
backend can count, and a worker that carries on without them where it cannot."""

from __future__ import annotations

import re
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from obs_app.generated.client import AsyncQueueClient
from obs_harness import Case, Worker, worker
from prometheus_client.parser import text_string_to_metric_families
from support.ops_pending import pending_on
from waiting import until

from qgen.runtime import capabilities
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.capabilities import Feature
from qgen.runtime.errors import UnsupportedByBackend

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None  # not serving yet
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith("qgen_"):
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples | None, name: str, **labels: str) -> float | None:
    if samples is None:
        return None
    return samples.get((name, frozenset(labels.items())))


async def _port_of(w: Worker) -> int:
    """The port the worker serves metrics on: it binds port 0 (no race for a free port with
    other processes) and logs the one it got."""
    found = await until(
        lambda: [m for line in w.log_lines() for m in _SERVING.findall(line)],
        bool,
        what="the worker's metrics address in its log",
        alive=w.check_alive,
    )
    return int(found[0])


_SERVING = re.compile(r"metrics at http://[^/\s]+:(\d+)/metrics")


def _args(port: int) -> tuple[str, ...]:
    return ("--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--metrics-interval", "0.5")


async def test_exact_counts_after_a_known_mix_of_outcomes(backend: Case, tmp_path: Path) -> None:
    client = AsyncQueueClient.from_url(backend.url)
    try:
        for mode in ("ok", "ok", "flaky", "fail", "discard"):
            await client.obs.add({"mode": mode})
    finally:
        await client.close()
    q = {"backend": backend.name, "queue": "obs"}
    with worker(backend, tmp_path, *_args(0)) as w:
        port = await _port_of(w)
        samples = await until(
            lambda: scrape(port),
            lambda s: (
                value(s, "qgen_jobs_completed_total", **q) == 3
                and value(s, "qgen_jobs_failed_total", **q, error_type="ValueError") == 1
                and value(s, "qgen_jobs_discarded_total", **q) == 1
            ),
            what="the five jobs' outcomes in /metrics",
            alive=w.check_alive,
        )
    assert value(samples, "qgen_jobs_started_total", **q) == 9  # 2 ok, 3 flaky, 3 fail, 1
    assert value(samples, "qgen_jobs_retried_total", **q, error_type="FlakyError") == 2
    assert value(samples, "qgen_jobs_retried_total", **q, error_type="ValueError") == 2
    assert value(samples, "qgen_jobs_failed_total", **q, error_type="FlakyError") is None
    assert value(samples, "qgen_jobs_cancelled_total", **q) == 0
    counts = {
        outcome: value(samples, "qgen_job_attempt_duration_seconds_count", **q, outcome=outcome)
        for outcome in ("completed", "retried", "failed", "discarded", "cancelled")
    }
    assert counts == {"completed": 3, "retried": 4, "failed": 1, "discarded": 1, "cancelled": 0}
    assert value(samples, "qgen_job_attempt_duration_seconds_sum", **q, outcome="retried") > 0


async def test_waiting_depth_and_oldest_age_are_sampled(
    backend: Case, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two jobs held in a paused queue show as a depth of 2 with an age (where the backend
    can tell the age); after resuming, the depth falls to 0."""
    _needs(backend, request, Feature.PAUSE, Feature.COUNTS)
    has_age = await _tells_age(backend)
    client = AsyncQueueClient.from_url(backend.url)
    q = {"backend": backend.name, "queue": "obs"}
    try:
        await client.obs.pause()
        await client.obs.add_many([{"mode": "ok"}, {"mode": "ok"}])
        with worker(backend, tmp_path, *_args(0)) as w:
            port = await _port_of(w)
            held = await until(
                lambda: scrape(port),
                # the two gauges are set one after the other: a scrape may fall between them
                lambda s: (
                    value(s, "qgen_queue_waiting_jobs", **q) == 2
                    and (value(s, "qgen_queue_oldest_waiting_age_seconds", **q) is not None)
                    == has_age
                ),
                what="a depth of 2 (and an age where the backend tells it)",
                alive=w.check_alive,
            )
            assert value(held, "qgen_jobs_started_total", **q) == 0
            age = value(held, "qgen_queue_oldest_waiting_age_seconds", **q)
            assert (age is not None and age > 0) if has_age else age is None
            await client.obs.resume()
            await until(
                lambda: scrape(port),
                lambda s: (
                    value(s, "qgen_jobs_completed_total", **q) == 2
                    and value(s, "qgen_queue_waiting_jobs", **q) == 0
                ),
                what="both jobs completed and a depth of 0",
                alive=w.check_alive,
            )
    finally:
        await client.close()


def _needs(backend: Case, request: pytest.FixtureRequest, *features: Feature) -> None:
    """Skip where the capability table says no; a strict xfail while the operation is still
    being written for the backend (tests/support/ops_pending.py)."""
    for feat in features:
        support = capabilities.feature(feat, backend.name)
        if not support.supported:
            pytest.skip(f"{backend.name} does not support {feat.value}: {support.note}")
    pending_on(backend.name, request, *features)


async def _tells_age(backend: Case) -> bool:
    conn = await open_backend(backend.url, {"obs": {"attempts": 3}})
    try:
        await conn.oldest_waiting("obs")
        return True
    except (UnsupportedByBackend, AttributeError):
        return False
    finally:
        await conn.close()


async def test_oldest_waiting_is_the_first_job_added(backend: Case) -> None:
    """The sampler's read of the oldest waiting job, straight on the backend: None for an
    empty queue, then the add time of the first of two jobs; refused where unsupported."""
    conn = await open_backend(backend.url, {"obs": {"attempts": 3}})
    try:
        try:
            assert await conn.oldest_waiting("obs") is None
        except (UnsupportedByBackend, AttributeError):
            assert backend.name == "sqs"  # no such read: the gauge is left out
            return
        before = time.time()
        await conn.enqueue("obs", {"mode": "ok"}, AddOptions())
        after = time.time()
        await conn.enqueue("obs", {"mode": "ok"}, AddOptions())
        oldest = await conn.oldest_waiting("obs")
        assert oldest is not None
        assert before - 1.0 <= oldest <= after + 1.0  # server clocks round to ms (or s)
        await conn.enqueue("obs", {"mode": "ok"}, AddOptions(delay=3600))
        assert await conn.oldest_waiting("obs") == oldest  # a delayed job is not waiting
    finally:
        await conn.close()


def test_a_taken_metrics_port_stops_the_worker_with_one_message(tmp_path: Path) -> None:
    case = Case("sqlite", f"sqlite:///{tmp_path / 'jobs.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with worker(case, tmp_path, *_args(port)) as w:
            assert w.proc.wait(60) == 2
            out = w.output()
    assert f"cannot serve metrics on 127.0.0.1:{port}" in out
    assert "Traceback" not in out


async def test_a_cancelled_running_job_is_counted(
    backend: Case, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """One held job, cancelled while it runs, counts once in ``qgen_jobs_cancelled_total``
    and in the cancelled attempts' durations."""
    _needs(backend, request, Feature.CANCEL)
    client = AsyncQueueClient.from_url(backend.url)
    q = {"backend": backend.name, "queue": "obs"}
    try:
        handle = await client.obs.add({"mode": "hold"})
        with worker(backend, tmp_path, *_args(0), "--grace", "1") as w:
            port = await _port_of(w)
            await until(
                lambda: scrape(port),
                lambda s: value(s, "qgen_jobs_started_total", **q) == 1,
                what="the held job to start",
                alive=w.check_alive,
            )
            assert await handle.cancel()
            done = await until(
                lambda: scrape(port),
                lambda s: value(s, "qgen_jobs_cancelled_total", **q) == 1,
                what="the cancel in /metrics",
                alive=w.check_alive,
            )
    finally:
        await client.close()
    assert value(done, "qgen_job_attempt_duration_seconds_count", **q, outcome="cancelled") == 1
    assert value(done, "qgen_jobs_completed_total", **q) == 0

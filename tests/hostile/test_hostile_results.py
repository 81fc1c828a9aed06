"""Issue 10 items 4 (the runner's part) and 8: a result that is not storable JSON (NaN, an
infinity, a NUL, a lone surrogate, nesting too deep, an object) fails that one job with
``ResultNotStorable`` before it reaches the backend, the same on every backend, while its
batch-mates complete; a retry delay beyond any backend's range is clamped, so a job's hostile
backoff never wedges the queue."""

from __future__ import annotations

import json
import math

import pytest
from hostile_app.jobs import ResultCase, seen
from hostile_harness import HostileCase, eventually, worker

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.capabilities import Feature
from qgen.runtime.config_keys import MAX_DELAY_S
from qgen.runtime.errors import JobFailedError
from qgen.runtime.retry import backoff_delay

BAD_MODES = ("nan", "inf-in-dict", "nul", "surrogate", "deep", "object")


async def test_unstorable_results_fail_alone(backend: HostileCase) -> None:
    client = backend.client()
    try:
        cases = [ResultCase(key=f"ok-{i}") for i in range(4)]
        cases += [ResultCase(key=f"bad-{m}", mode=m) for m in BAD_MODES]  # type: ignore[arg-type]
        handles = {c.key: await client.queue("h-result").add(c) for c in cases}
        measure_bad = await client.queue("h-measure").add(ResultCase(key="m-nan", mode="nan"))
        measure_ok = await client.queue("h-measure").add(ResultCase(key="m-ok"))
        bad_keys = {c.key for c in cases if c.mode != "ok"} | {"m-nan"}
        async with worker(backend, ["h-result", "h-measure", "h-dead"]) as task:
            await eventually(
                lambda: seen("h-dead"),
                lambda s: set(s) == bad_keys,
                worker_task=task,
                what="a dead-letter copy of every bad job",
            )
            await eventually(
                lambda: seen("h-result"), lambda s: len(s) == len(cases), worker_task=task
            )
            if backend.supports(Feature.RESULTS):
                for key, handle in handles.items():
                    if key.startswith("ok"):
                        assert await handle.result(timeout=20) == {"fine": True}
                        continue
                    try:
                        await handle.result(timeout=20)
                    except JobFailedError as exc:
                        assert exc.error_type == "ResultNotStorable", exc
                    else:
                        raise AssertionError(f"{key} completed")
                assert await measure_ok.result(timeout=20) == 1.5
                info = await measure_bad.info()
                assert info.status is JobStatus.FAILED
                assert info.error is not None and info.error.type == "ResultNotStorable"
                assert "result" in info.error.message and "nan" in info.error.message
        assert sorted(seen("h-dead")) == sorted(bad_keys)  # each failed once, for good
    finally:
        await client.close()


def test_retry_delays_stay_in_every_backends_range() -> None:
    exponential = {"type": "exponential", "delay": 1000}
    assert backoff_delay(exponential, 1000) == MAX_DELAY_S
    for spec in (
        {"type": "fixed", "delay": 1e300},
        {"type": "fixed", "delay": float("inf")},
        {"type": "fixed", "delay": 10**400},
        {"type": "exponential", "delay": 5, "max_delay": float("inf")},
    ):
        delay = backoff_delay(spec, 7)
        assert math.isfinite(delay) and 0 <= delay <= MAX_DELAY_S, spec
    assert backoff_delay({"type": "fixed", "delay": float("nan")}, 1) == 1.0  # the default


async def test_a_hostile_backoff_retries_later_and_the_queue_moves(backend: HostileCase) -> None:
    """A job whose own backoff (written by another producer, below the client's checks) says
    1e300 ms is retried at the clamped delay; its batch-mates complete."""
    client = backend.client()
    try:
        async with backend.raw_backend() as raw:
            own = {"type": "fixed", "delay": 1e300}
            if backend.name == "redis":  # BullMQ's opts are written as Node would write them
                own = {"type": "fixed", "delay": 1000}
            hostile = AddOptions(backoff=own, attempts=3)
            items = [({"key": f"ok-{i}"}, AddOptions()) for i in range(3)]
            items.insert(1, ({"key": "bad", "mode": "raise"}, hostile))
            ids = await raw.enqueue_many("h-record", items)
            if backend.name == "redis":
                await _node_style_backoff(backend.url, ids[1], 1e300)
            async with worker(backend, ["h-record"]) as task:
                await eventually(
                    lambda: sorted(seen("h-record")),
                    lambda s: s == ["bad", "ok-0", "ok-1", "ok-2"],
                    worker_task=task,
                    what="every job to run once",
                )
                if backend.supports(Feature.STATUS):
                    info = await eventually(
                        lambda: raw.get("h-record", ids[1]),
                        lambda i: i is not None and i.status is JobStatus.DELAYED,
                        worker_task=task,
                        what="the bad job to wait for its retry",
                    )
                    assert info is not None and info.attempts_made == 1
                    for job_id in (ids[0], ids[2], ids[3]):
                        done = await raw.wait("h-record", job_id, 20)
                        assert done.status is JobStatus.COMPLETED
                # the queue keeps moving after the hostile retry was recorded
                await client.queue("h-record").add({"key": "later"})
                await eventually(lambda: seen("h-record"), lambda s: "later" in s, worker_task=task)
        assert seen("h-record").count("bad") == 1
    finally:
        await client.close()


async def _node_style_backoff(url: str, job_id: str, delay_ms: float) -> None:
    """Rewrite a Redis job's backoff in its BullMQ hash, as a Node producer could store it."""
    from urllib.parse import parse_qs, urlsplit

    from redis.asyncio import Redis

    prefix = parse_qs(urlsplit(url).query)["prefix"][0]
    key = f"{prefix}:h-record:{job_id}"
    conn = Redis.from_url(url.split("?")[0], decode_responses=True)
    try:
        opts = json.loads(await conn.hget(key, "opts"))
        opts["backoff"] = {"type": "fixed", "delay": delay_ms}
        await conn.hset(key, "opts", json.dumps(opts))
    finally:
        await conn.aclose()


async def test_progress_follows_the_json_rule() -> None:
    """Progress is stored JSON too: a NaN (or NUL, ...) fails in the job's own call, before any
    backend sees it, with the place named."""
    from qgen.runtime.interaction import QueueInteraction

    stored: list[object] = []

    async def report(value: object) -> None:
        stored.append(value)

    queue = QueueInteraction("h-result", "j-1", 1, 1, report)
    for value, words in [
        (float("nan"), "progress: nan is not a JSON number"),
        ({"done": 1, "of": float("inf")}, "progress.of: inf is not a JSON number"),
        ("step\x00", "progress: contains a NUL character"),
    ]:
        with pytest.raises(ValueError, match=words):
            await queue.update_progress(value)  # type: ignore[arg-type]
    await queue.update_progress({"done": 1, "of": 2})
    assert stored == [{"done": 1, "of": 2}]

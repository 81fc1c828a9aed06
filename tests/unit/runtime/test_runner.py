"""The runner on its own, with hand-made deliveries (no backend)."""

from __future__ import annotations

import asyncio
import logging
import threading
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic import BaseModel

from qgen.runtime.backends.base import Completed, Delivery, Discarded, Failed, Retry
from qgen.runtime.errors import ConfigError
from qgen.runtime.interaction import Interaction, Progress, SyncInteraction
from qgen.runtime.runner import Runner
from qgen.runtime.wiring import QueueWiring


class In(BaseModel):
    n: int
    mode: str = "ok"


class Out(BaseModel):
    doubled: int


class BoomError(Exception):
    pass


async def job(services: Any, data: In, interaction: Interaction) -> Out:
    assert interaction.queue is not None
    await interaction.queue.update_progress(50)
    if data.mode == "boom":
        raise BoomError(f"boom {data.n}")
    if data.mode == "fail":
        interaction.queue.fail("asked to fail")
    if data.mode == "discard":
        interaction.queue.discard("not wanted")
    if data.mode == "slow":
        await asyncio.sleep(5)
    if data.mode == "dict":
        return {"doubled": data.n * 2}  # type: ignore[return-value]
    if data.mode == "log":
        logging.getLogger("user.code").warning("inside")
    return Out(doubled=data.n * 2)


def sync_job(services: Any, data: In, interaction: SyncInteraction) -> Out:
    assert interaction.queue is not None
    interaction.queue.update_progress({"thread": threading.current_thread().name})
    if data.mode == "boom":
        raise BoomError("sync boom")
    if data.mode == "slow":
        threading.Event().wait(1.0)
    return Out(doubled=data.n * 2)


async def no_result(services: Any, data: int) -> None:
    return None


def wiring(func: Callable[..., Any], **config: Any) -> QueueWiring:
    return QueueWiring("q", func, config, (), ())


def make(data: Any, *, attempt: int = 1, max_attempts: int = 3, backoff: Any = None) -> Any:
    reported: list[Progress] = []

    async def report(value: Progress) -> None:
        reported.append(value)

    return Delivery("q", "job-1", data, attempt, max_attempts, backoff, report), reported


async def test_completed_with_dumped_result_and_progress() -> None:
    d, reported = make({"n": 2})
    out = await Runner(wiring(job), None, backend="sqlite").run(d)
    assert out == Completed({"doubled": 4})
    assert reported == [50]


async def test_dict_result_is_validated_into_the_output_type() -> None:
    d, _ = make({"n": 3, "mode": "dict"})
    assert await Runner(wiring(job), None, backend="sqlite").run(d) == Completed({"doubled": 6})


async def test_invalid_input_fails_at_once_without_retry() -> None:
    d, reported = make({"n": "not a number"}, attempt=1, max_attempts=5)
    out = await Runner(wiring(job, dead_letter="dead"), None, backend="sqlite").run(d)
    assert isinstance(out, Failed)
    assert out.error.type == "ValidationFailed"
    assert "n" in out.error.message
    assert out.dead_letter == "dead"
    assert reported == []


async def test_exception_retries_with_backoff_then_fails() -> None:
    runner = Runner(wiring(job, backoff={"type": "fixed", "delay": 300}), None, backend="sqlite")
    d, _ = make({"n": 1, "mode": "boom"}, attempt=1, max_attempts=2)
    out = await runner.run(d)
    assert isinstance(out, Retry)
    assert out.delay == pytest.approx(0.3)
    assert out.error.type == "BoomError"
    assert out.error.message == "boom 1"
    assert out.error.traceback and "BoomError" in out.error.traceback
    d, _ = make({"n": 1, "mode": "boom"}, attempt=2, max_attempts=2)
    out = await runner.run(d)
    assert isinstance(out, Failed)
    assert out.dead_letter is None


async def test_delivery_backoff_overrides_the_queue() -> None:
    runner = Runner(wiring(job, backoff={"type": "fixed", "delay": 300}), None, backend="sqlite")
    backoff = {"type": "exponential", "delay": 100}
    d, _ = make({"n": 1, "mode": "boom"}, attempt=3, max_attempts=5, backoff=backoff)
    out = await runner.run(d)
    assert isinstance(out, Retry)
    assert out.delay == pytest.approx(0.4)


async def test_fail_and_discard() -> None:
    runner = Runner(wiring(job, dead_letter="dead"), None, backend="sqlite")
    d, _ = make({"n": 1, "mode": "fail"}, attempt=3, max_attempts=3)
    out = await runner.run(d)
    assert isinstance(out, Failed)
    assert (out.error.type, out.error.message, out.dead_letter) == (
        "QueueJobFailed",
        "asked to fail",
        "dead",
    )
    d, _ = make({"n": 1, "mode": "discard"}, attempt=1, max_attempts=3)
    assert await runner.run(d) == Discarded("not wanted")


async def test_timeout_fails_the_attempt() -> None:
    runner = Runner(wiring(job, timeout=0.1, attempts=2), None, backend="sqlite")
    d, _ = make({"n": 1, "mode": "slow"}, attempt=1, max_attempts=2)
    out = await runner.run(d)
    assert isinstance(out, Retry)
    assert out.error.type == "JobTimeout"


async def test_sync_function_runs_in_a_thread_with_blocking_progress() -> None:
    runner = Runner(wiring(sync_job, batch_size=2), None, backend="sqlite")
    d, reported = make({"n": 5})
    assert await runner.run(d) == Completed({"doubled": 10})
    assert reported and reported[0]["thread"].startswith("qgen-q")  # type: ignore[index]
    d, _ = make({"n": 5, "mode": "boom"})
    out = await runner.run(d)
    assert isinstance(out, Retry) and out.error.type == "BoomError"
    runner.close()


async def test_sync_timeout_fails_while_the_thread_finishes_alone() -> None:
    runner = Runner(wiring(sync_job, timeout=0.1), None, backend="sqlite")
    d, _ = make({"n": 5, "mode": "slow"}, max_attempts=1)
    out = await runner.run(d)
    assert isinstance(out, Failed) and out.error.type == "JobTimeout"
    runner.close()


async def test_no_result_function() -> None:
    d, _ = make(7)
    assert await Runner(wiring(no_result), None, backend="sqlite").run(d) == Completed(None)


async def test_middleware_runs_in_order_around_the_call() -> None:
    seen: list[str] = []

    def mw(tag: str) -> Callable[[Any, Any, Callable[[], Awaitable[None]]], Awaitable[None]]:
        async def middleware(services: Any, interaction: Any, next_: Any) -> None:
            assert services == "svc"
            assert interaction.queue.job_id == "job-1"
            seen.append(f"{tag}>")
            await next_()
            seen.append(f"<{tag}")

        return middleware

    w = QueueWiring("q", job, {}, (mw("a"), mw("b")), ())
    d, _ = make({"n": 1})
    assert await Runner(w, "svc", backend="sqlite").run(d) == Completed({"doubled": 2})
    assert seen == ["a>", "b>", "<b", "<a"]


async def test_middleware_error_is_a_job_error() -> None:
    async def broken(services: Any, interaction: Any, next_: Any) -> None:
        raise BoomError("in middleware")

    w = QueueWiring("q", job, {}, (broken,), ())
    d, _ = make({"n": 1}, max_attempts=1)
    out = await Runner(w, None, backend="sqlite").run(d)
    assert isinstance(out, Failed) and out.error.message == "in middleware"


async def test_log_records_carry_queue_and_job_id(caplog: pytest.LogCaptureFixture) -> None:
    d, _ = make({"n": 1, "mode": "log"})
    with caplog.at_level(logging.INFO):
        await Runner(wiring(job), None, backend="sqlite").run(d)
        logging.getLogger("outside").warning("after")
    inside = [r for r in caplog.records if r.name == "user.code"]
    assert inside and inside[0].queue == "q" and inside[0].job_id == "job-1"  # type: ignore[attr-defined]
    outside = [r for r in caplog.records if r.name == "outside"]
    assert outside[0].queue == "-"  # type: ignore[attr-defined]


class Plain(typing.TypedDict):  # typing.TypedDict: pydantic refuses it on Python 3.11
    a: int


async def plain_typed_dict(services: Any, data: Plain) -> None: ...


def test_unbuildable_types_refuse_at_start_up() -> None:
    bad = plain_typed_dict
    with pytest.raises(ConfigError, match="pydantic"):
        Runner(wiring(bad), None, backend="sqlite")


def test_unresolvable_annotation_refuses() -> None:
    async def bad(services: Any, data: Missing) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(ConfigError, match="annotations"):
        Runner(wiring(bad), None, backend="sqlite")


def test_wrong_arity_refuses() -> None:
    async def bad(data: int) -> None: ...

    with pytest.raises(ConfigError, match="takes"):
        Runner(wiring(bad), None, backend="sqlite")

"""The SQS consumer with handlers of the test's own, against moto's server: outcomes, retries
through visibility, dead letters, foreign messages, heartbeats, shutdown and API call counts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.backends.sqs import SqsBackend
from qgen.runtime.settings import QueueSettings, resolve
from tests.support.sqs import MotoSqs, queue_depth

Handle = Callable[[Delivery], Awaitable[Outcome]]


async def _run_until(
    backend: SqsBackend,
    settings: QueueSettings,
    handle: Handle,
    done: Callable[[], bool],
    timeout: float = 30,
    grace: float = 5,
) -> None:
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, "timed out"
            assert not task.done(), task
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop(grace)
        await task


def _receive_all(srv: MotoSqs, queue_url: str, wait: int = 1) -> list[dict[str, Any]]:
    client = srv.client()
    try:
        out: list[dict[str, Any]] = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        return out
    finally:
        client.close()


def _settings(name: str, **config: Any) -> QueueSettings:
    base = {"batch_size": 10, "drain_delay": 1, "visibility_timeout": 5, "attempts": 2}
    return resolve(name, {**base, **config}, "sqs")


async def test_processes_and_deletes(
    backend: SqsBackend, moto_server: MotoSqs, prefix: str
) -> None:
    await backend.enqueue_many("plain", [({"i": i}, AddOptions()) for i in range(25)])
    seen: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        assert d.queue == "plain" and d.attempt == 1 and d.max_attempts == 3
        seen.append(d.data["i"])
        return Completed(None)

    await _run_until(backend, _settings("plain", attempts=3), handle, lambda: len(seen) >= 25)
    assert sorted(seen) == list(range(25))
    # Deleted, not merely received: the queue holds no message, visible or in flight (a
    # message received and never deleted stays in flight until its visibility timeout).
    assert queue_depth(moto_server, prefix, "plain") == 0


async def test_retry_uses_backoff_through_visibility(backend: SqsBackend) -> None:
    attempts: list[tuple[int, float]] = []

    async def handle(d: Delivery) -> Outcome:
        attempts.append((d.attempt, time.monotonic()))
        if d.attempt == 1:
            return Retry(ErrorInfo("Boom", "first"), delay=2.0)
        return Completed(None)

    await backend.enqueue("plain", {"x": 1}, AddOptions(attempts=5))
    settings = _settings("plain", visibility_timeout=30)
    await _run_until(backend, settings, handle, lambda: len(attempts) >= 2)
    assert [a for a, _ in attempts] == [1, 2]
    gap = attempts[1][1] - attempts[0][1]
    assert 1.95 <= gap < 15, gap  # the 2 s backoff, not the 30 s visibility timeout


async def test_failed_goes_to_dead_letter_and_discarded_does_not(
    backend: SqsBackend, moto_server: MotoSqs
) -> None:
    done: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        done.append(d.job_id)
        if d.data == "fail":
            return Failed(ErrorInfo("PaymentFailedError", "card declined"), "dead")
        return Discarded("not needed")

    await backend.enqueue("q", "fail", AddOptions(job_id="f1"))
    await backend.enqueue("q", "discard", AddOptions(job_id="d1"))
    await _run_until(backend, _settings("q", dead_letter="dead"), handle, lambda: len(done) >= 2)
    dead = _receive_all(moto_server, await backend.calls.queue_url("dead"))
    assert len(dead) == 1
    attrs = {k: v["StringValue"] for k, v in dead[0]["MessageAttributes"].items()}
    assert json.loads(dead[0]["Body"]) == "fail"
    assert attrs["qgen.job_id"] == "f1" and attrs["qgen.source"] == "q"
    assert json.loads(attrs["qgen.error"]) == {
        "type": "PaymentFailedError",
        "message": "card declined",
    }
    assert _receive_all(moto_server, await backend.calls.queue_url("q"), wait=0) == []


async def test_foreign_plain_json_message_is_a_job(
    backend: SqsBackend, moto_server: MotoSqs, prefix: str
) -> None:
    client = moto_server.client()
    queue_url = await backend.calls.queue_url("plain")
    await backend.calls.queue_url("dead")
    sent = client.send_message(QueueUrl=queue_url, MessageBody='{"order_id": "o1"}')
    client.send_message(QueueUrl=queue_url, MessageBody="not json")
    client.close()
    got: list[Delivery] = []

    async def handle(d: Delivery) -> Outcome:
        got.append(d)
        return Completed(None)

    def both_handled() -> bool:  # the job ran and the bad body reached the dead-letter queue
        return bool(got) and queue_depth(moto_server, prefix, "dead") >= 1

    await _run_until(backend, _settings("plain", dead_letter="dead"), handle, both_handled)
    [d] = got  # the non-JSON body never reached the handler
    assert d.data == {"order_id": "o1"} and d.job_id == sent["MessageId"]
    assert d.attempt == 1 and d.max_attempts == 2 and d.backoff is None
    dead = _receive_all(moto_server, await backend.calls.queue_url("dead"))
    assert [m["Body"] for m in dead] == ["not json"]
    error = json.loads(dead[0]["MessageAttributes"]["qgen.error"]["StringValue"])
    assert error["type"] == "InvalidMessageBody"


async def test_heartbeat_keeps_a_long_job_invisible(backend: SqsBackend) -> None:
    starts: list[int] = []
    finished: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        starts.append(d.attempt)
        await asyncio.sleep(5)  # 2.5 visibility timeouts
        finished.append(d.job_id)
        return Completed(None)

    await backend.enqueue("plain", 1, AddOptions())
    await _run_until(
        backend, _settings("plain", visibility_timeout=2), handle, lambda: bool(finished)
    )
    assert starts == [1]


async def test_stop_gives_back_running_and_buffered_jobs(
    backend: SqsBackend, moto_server: MotoSqs
) -> None:
    await backend.enqueue_many("plain", [(i, AddOptions()) for i in range(6)])
    started: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        started.append(d.data)
        await asyncio.sleep(60)
        return Completed(None)

    # 2 slots, 5 prefetched: after stop, every message is visible again at once (not after the
    # 30 s visibility timeout).
    settings = _settings("plain", batch_size=2, prefetch=5, visibility_timeout=30)
    t0 = time.monotonic()
    await _run_until(backend, settings, handle, lambda: len(started) >= 2, grace=0.5)
    assert time.monotonic() - t0 < 15
    client = moto_server.client()
    queue_url = await backend.calls.queue_url("plain")
    seen: list[dict[str, Any]] = []
    for _ in range(5):
        seen += client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if len(seen) >= 6:
            break
    client.close()
    assert sorted(int(m["Body"]) for m in seen) == list(range(6))


async def test_api_calls_per_job_at_steady_load(backend: SqsBackend) -> None:
    jobs = 200
    await backend.enqueue_many("plain", [(i, AddOptions()) for i in range(jobs)])
    calls: dict[str, int] = {}
    done: list[int] = []

    def count(model: Any, **_: Any) -> None:
        if done and len(done) < jobs:
            calls[model.name] = calls.get(model.name, 0) + 1

    backend.calls.client.meta.events.register("before-call.sqs.*", count)

    async def handle(d: Delivery) -> Outcome:
        done.append(d.data)
        return Completed(None)

    started = time.monotonic()
    await _run_until(
        backend,
        _settings("plain", prefetch=10, batch_size=10, visibility_timeout=30),
        handle,
        lambda: len(done) >= jobs,
    )
    elapsed = time.monotonic() - started
    # The paused tag is read at most once per pause_check (1 s in tests), whatever the load:
    # not a cost per job.
    tag_reads = calls.pop("ListQueueTags", 0)
    assert tag_reads <= elapsed + 1, (tag_reads, elapsed)
    per_job = sum(calls.values()) / jobs
    assert per_job <= 0.25, calls


async def test_fifo_group_order_holds_across_a_retry(backend: SqsBackend) -> None:
    await backend.enqueue_many(
        "jobs.fifo", [(i, AddOptions(extra={"group": "g"})) for i in range(5)]
    )
    await backend.enqueue("jobs.fifo", 100, AddOptions(extra={"group": "other"}))
    seen: list[tuple[int, int]] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append((d.data, d.attempt))
        await asyncio.sleep(0.05 * (5 - d.data) if d.data < 5 else 0)  # later ones are quicker
        if d.data == 1 and d.attempt == 1:
            return Retry(ErrorInfo("Boom", "again"), delay=1)
        return Completed(None)

    await _run_until(
        backend, _settings("jobs.fifo", attempts=3), handle, lambda: len(seen) >= 7, timeout=40
    )
    group = [(n, a) for n, a in seen if n != 100]
    # 0 done; 1 fails and the rest of the group is given back; 1 again (attempt 2), then 2..4.
    assert [n for n, _ in group] == [0, 1, 1, 2, 3, 4], seen
    assert (100, 1) in seen


async def test_a_message_received_more_often_than_its_attempts_fails_unrun(
    backend: SqsBackend, moto_server: MotoSqs
) -> None:
    """Without a redrive policy, receives that dead workers left unacknowledged still count:
    the fourth receive of a 3-attempt job fails it (dead letter if set) without running it."""
    await backend.enqueue("plain", {"x": 1}, AddOptions(job_id="stuck"))
    queue_url = await backend.calls.queue_url("plain")
    client = moto_server.client()
    for _ in range(3):
        got: list[Any] = []
        for _ in range(10):
            got = client.receive_message(
                QueueUrl=queue_url, VisibilityTimeout=1, WaitTimeSeconds=2
            ).get("Messages", [])
            if got:
                break
        assert len(got) == 1
    client.close()
    ran: list[Delivery] = []

    async def handle(d: Delivery) -> Outcome:
        ran.append(d)
        return Completed(None)

    def dead_letters() -> list[dict[str, Any]]:
        return _receive_all(moto_server, dead_url, wait=0)

    dead_url = await backend.calls.queue_url("dead")
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        found.extend(dead_letters())
        return bool(found)

    await _run_until(
        backend, _settings("plain", attempts=3, dead_letter="dead"), handle, arrived, timeout=20
    )
    assert ran == []
    error = json.loads(found[0]["MessageAttributes"]["qgen.error"]["StringValue"])
    assert error["type"] == "AttemptsExhausted" and "received 4 times" in error["message"]


async def test_worker_with_create_recreates_a_deleted_queue(
    backend: SqsBackend, moto_server: MotoSqs, prefix: str
) -> None:
    queue_url = await backend.calls.queue_url("plain")
    client = moto_server.client()
    client.delete_queue(QueueUrl=queue_url)

    def exists() -> bool:
        return bool(client.list_queues(QueueNamePrefix=prefix + "plain").get("QueueUrls"))

    assert not exists()

    async def handle(d: Delivery) -> Outcome:
        return Completed(None)

    try:
        await _run_until(backend, _settings("plain"), handle, exists, timeout=20)
    finally:
        client.close()

"""The SQS operator API against moto's server: the pause tag (and a pause set from outside
qgen), counts with the dead-letter depth, redrive on standard and FIFO queues (kept messages,
foreign sources, limit), and the 12 h visibility cap of retries and heartbeats."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from qgen.runtime.backends.base import AddOptions, ErrorInfo, Retry
from qgen.runtime.backends.sqs import SqsBackend
from qgen.runtime.backends.sqs.jobs import (
    LAMBDA_RECEIVED_AGO_S,
    VISIBILITY_MARGIN_S,
    Received,
    retry_visibility,
)
from qgen.runtime.backends.sqs.outcomes import Acks, store
from qgen.runtime.backends.sqs.pause import PAUSED_TAG
from qgen.runtime.backends.sqs.url import SQS_MAX_VISIBILITY_S
from tests.support.sqs import MotoSqs

QUEUES: dict[str, dict[str, Any]] = {
    "orders": {"attempts": 2, "drain_delay": 1, "dead_letter": "orders-dead"},
    "orders-dead": {},
    "other": {"dead_letter": "orders-dead"},
    "plain": {"drain_delay": 1},
    "jobs.fifo": {"dead_letter": "jobs-dead.fifo"},
    "jobs-dead.fifo": {},
}
HOUR = 3600


@pytest.fixture
async def ops(url: str) -> AsyncIterator[SqsBackend]:
    b = await SqsBackend.connect(url, QUEUES)
    yield b
    await b.close()


def _valid(data: Any) -> str | None:
    ok = isinstance(data, dict) and isinstance(data.get("n"), int)
    return None if ok else "n: Input should be a valid integer"


def _dead_letter(queue: str, source: str, body: Any, job_id: str, **extra: Any) -> dict[str, Any]:
    attrs = {
        "qgen.job_id": {"DataType": "String", "StringValue": job_id},
        "qgen.source": {"DataType": "String", "StringValue": source},
        "qgen.error": {"DataType": "String", "StringValue": '{"type":"Boom"}'},
        "trace": {"DataType": "String", "StringValue": "t-1"},
    }
    return {"MessageBody": json.dumps(body), "MessageAttributes": attrs, **extra}


async def _send(backend: SqsBackend, queue: str, params: dict[str, Any]) -> None:
    url = await backend.calls.queue_url(queue)
    await backend.calls.run(backend.calls.client.send_message, QueueUrl=url, **params)


async def _receive(
    backend: SqsBackend, queue: str, visibility: int = 30, most: int = 10
) -> list[Any]:
    url = await backend.calls.queue_url(queue)
    reply = await backend.calls.run(
        backend.calls.client.receive_message,
        QueueUrl=url,
        MaxNumberOfMessages=most,
        WaitTimeSeconds=1,
        VisibilityTimeout=visibility,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
    )
    return list(reply.get("Messages", []))


async def test_pause_is_a_queue_tag_that_outside_tools_can_set(
    ops: SqsBackend, moto_server: MotoSqs
) -> None:
    await ops.pause("orders")
    await ops.pause("orders")  # idempotent
    url = await ops.calls.queue_url("orders")
    client = moto_server.client()
    try:
        assert client.list_queue_tags(QueueUrl=url)["Tags"] == {PAUSED_TAG: "1"}
        assert await ops.is_paused("orders") and not await ops.is_paused("plain")
        await ops.resume("orders")
        await ops.resume("orders")
        assert client.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
        client.tag_queue(QueueUrl=url, Tags={PAUSED_TAG: "yes", "team": "pay"})  # the console
        assert (await ops.counts("orders")).paused is True
    finally:
        client.close()


async def test_counts_are_estimates_with_the_dead_letter_depth_as_failed(
    ops: SqsBackend,
) -> None:
    await ops.enqueue_many("orders", [({"n": n}, AddOptions()) for n in range(3)])
    await ops.enqueue("orders", {"n": 9}, AddOptions(delay=60))
    for n in range(2):
        await _send(ops, "orders-dead", _dead_letter("orders-dead", "orders", {"n": n}, f"d{n}"))
    (held,) = await _receive(ops, "orders", most=1)
    counts = await ops.counts("orders")
    assert (counts.waiting, counts.active, counts.delayed, counts.failed) == (2, 1, 1, 2)
    assert counts.approximate and not counts.paused
    assert counts.unknown == {"completed", "discarded", "cancelled"}
    plain = await ops.counts("plain")  # no dead-letter queue: failed cannot be known
    assert "failed" in plain.unknown and plain.failed == 0
    assert held["Body"]


async def test_redrive_moves_valid_ones_keeps_the_rest_visible(ops: SqsBackend) -> None:
    await _send(ops, "orders-dead", _dead_letter("orders-dead", "orders", {"n": 1}, "good"))
    await _send(ops, "orders-dead", _dead_letter("orders-dead", "orders", {"n": "x"}, "stale"))
    await _send(ops, "orders-dead", _dead_letter("orders-dead", "other", {"n": 2}, "foreign"))
    await _send(ops, "orders-dead", {"MessageBody": "not json"})
    dry = await ops.redrive("orders-dead", "orders", None, _valid, True)
    assert (dry.moved, dry.dry_run) == (["good"], True)
    report = await ops.redrive("orders-dead", "orders", None, _valid, False)
    assert report.moved == ["good"]
    kept = dict(report.kept)
    assert "valid integer" in kept["stale"]
    assert "from queue 'other'" in kept["foreign"]
    assert len(kept) == 3 and any("cannot be read" in e for e in kept.values())
    # what stayed is visible at once: the next run sees the same three
    again = await ops.redrive("orders-dead", "orders", None, _valid, False)
    assert again.moved == [] and sorted(again.kept) == sorted(report.kept)
    (moved,) = await _receive(ops, "orders")
    assert json.loads(moved["Body"]) == {"n": 1}
    attrs = moved["MessageAttributes"]
    assert attrs["qgen.job_id"]["StringValue"] == "good"
    assert attrs["trace"]["StringValue"] == "t-1"  # other producers' attributes travel along
    assert "qgen.source" not in attrs and "qgen.error" not in attrs
    assert moved["Attributes"]["ApproximateReceiveCount"] == "1"  # fresh attempts


async def test_redrive_limit_leaves_the_rest_for_later(ops: SqsBackend) -> None:
    for n in range(5):
        await _send(ops, "orders-dead", _dead_letter("orders-dead", "orders", {"n": n}, f"j{n}"))
    first = await ops.redrive("orders-dead", "orders", 2, _valid, False)
    assert len(first.moved) == 2 and first.kept == []
    rest = await ops.redrive("orders-dead", "orders", None, _valid, False)
    assert sorted(first.moved + rest.moved) == [f"j{n}" for n in range(5)]


async def test_redrive_on_fifo_keeps_groups_and_deduplicates_a_repeat(ops: SqsBackend) -> None:
    for n, group in enumerate(("a", "b")):
        params = _dead_letter(
            "jobs-dead.fifo",
            "jobs.fifo",
            {"n": n},
            f"f{n}",
            MessageGroupId=group,
            MessageDeduplicationId=f"dl-{n}",
        )
        await _send(ops, "jobs-dead.fifo", params)
    report = await ops.redrive("jobs-dead.fifo", "jobs.fifo", None, _valid, False)
    assert sorted(report.moved) == ["f0", "f1"]
    got = await _receive(ops, "jobs.fifo")
    groups = {m["MessageAttributes"]["qgen.job_id"]["StringValue"]: m for m in got}
    assert groups["f0"]["Attributes"]["MessageGroupId"] == "a"
    assert groups["f1"]["Attributes"]["MessageGroupId"] == "b"
    assert groups["f0"]["Attributes"]["MessageDeduplicationId"].startswith("rd-")


# -- the 12 h cap on visibility ----------------------------------------------------------------


def test_retry_visibility_stays_within_12_hours_of_the_receive() -> None:
    msg = Received("m", "r", "{}", 1, {}, received_at=1000.0)

    def after(held: float, delay: float) -> int:
        return retry_visibility(msg, delay, now=1000.0 + held)

    cap = SQS_MAX_VISIBILITY_S - VISIBILITY_MARGIN_S
    assert after(0, 2.2) == 3  # whole seconds, rounded up
    assert after(0, 13 * HOUR) == cap
    assert after(2 * HOUR, 13 * HOUR) == cap - 2 * HOUR
    assert after(2 * HOUR + 0.5, 13 * HOUR) == cap - 2 * HOUR - 1  # part seconds count whole
    assert after(2 * HOUR, 60) == 60
    assert after(12 * HOUR, 13 * HOUR) == 0  # no room left: at once
    # Lambda hands over records received earlier: counted from the longest that can be
    record = {"messageId": "m", "receiptHandle": "r", "body": "{}", "attributes": {}}
    from_lambda = Received.from_lambda(record)
    assert retry_visibility(from_lambda, 13 * HOUR) <= cap - LAMBDA_RECEIVED_AGO_S


async def test_a_backoff_longer_than_sqs_allows_is_capped_not_refused(
    ops: SqsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qgen.sqs")
    await ops.enqueue("plain", {"n": 1}, AddOptions())
    started = time.monotonic()
    (raw,) = await _receive(ops, "plain", visibility=1)
    msg = Received.from_boto(raw, started)
    acks = Acks(ops.calls, "plain")
    assert await store(acks, msg, Retry(ErrorInfo("Boom", "x"), 13 * HOUR)) is False
    await acks.close()
    texts = [r.getMessage() for r in caplog.records]
    assert not [t for t in texts if "refused" in t or "failed" in t], texts
    assert any("longer than SQS can hide a message" in t for t in texts), texts
    await asyncio.sleep(1.5)  # past the receive's own visibility of 1 s: still hidden
    assert await _receive(ops, "plain") == []
    counts = await ops.counts("plain")
    assert (counts.waiting, counts.active) == (0, 1)


async def test_heartbeats_stop_extending_at_12_hours_and_say_so_once(
    ops: SqsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    from qgen.runtime.backends.sqs.consumer import SqsNative
    from qgen.runtime.backends.sqs.jobs import SqsJob
    from qgen.runtime.settings import resolve

    caplog.set_level(logging.WARNING, logger="qgen.sqs")
    await ops.enqueue_many("plain", [({"n": n}, AddOptions()) for n in range(2)])
    raws = await _receive(ops, "plain", visibility=5)
    assert len(raws) == 2
    native = SqsNative(ops.calls)
    lane = native.lane(resolve("plain", {"visibility_timeout": 30}, "sqs"), asyncio.Event())
    now = time.monotonic()
    almost = SQS_MAX_VISIBILITY_S - VISIBILITY_MARGIN_S - 10  # 10 s of room left
    for raw, held in zip(raws, (almost, SQS_MAX_VISIBILITY_S), strict=True):
        job = SqsJob(Received.from_boto(raw, now - held), lane.settings, deadline=now)
        lane.held_msgs[job.msg.receipt_handle] = job
    await native.renew(lane, [])
    for job in lane.held_msgs.values():
        job.deadline = time.monotonic()  # due again
    await native.renew(lane, [])
    await lane.acks.close()
    texts = [r.getMessage() for r in caplog.records]
    overdue = [t for t in texts if "held for almost 12 h" in t]
    assert len(overdue) == 2, texts  # once per job, not once per heartbeat
    assert not [t for t in texts if "refused" in t or "failed" in t], texts
    deadlines = sorted(job.deadline - now for job in lane.held_msgs.values())
    assert deadlines[0] < 1 and 5 < deadlines[1] < 12  # none; about 10 s, not 30


async def test_an_unreachable_endpoint_is_a_qgen_error_without_its_secret() -> None:
    import socket

    from qgen.runtime.errors import BackendUnavailable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"sqs://us-east-1?endpoint_url=http://key:hunter2@127.0.0.1:{port}&prefix=x-"
    backend = await SqsBackend.connect(url, QUEUES)
    try:
        for call in (
            lambda: backend.counts("orders"),
            lambda: backend.pause("orders"),
            lambda: backend.redrive("orders-dead", "orders", None, _valid, True),
            lambda: backend.enqueue("orders", {"n": 1}, AddOptions()),
        ):
            with pytest.raises(BackendUnavailable) as err:
                await call()
            assert "hunter2" not in str(err.value)
            assert "http://key:***@127.0.0.1" in str(err.value)
    finally:
        await backend.close()


async def test_a_body_nested_too_deep_fails_to_the_dead_letter_queue_not_forever(
    ops: SqsBackend,
) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting: such a message must
    fail like any body that is not JSON, not break every receive that brings it."""
    from qgen.runtime.backends.base import Delivery, Outcome
    from qgen.runtime.settings import resolve

    await _send(ops, "orders", {"MessageBody": "[" * 100_000 + "]" * 100_000})
    deep = {"qgen.backoff": {"DataType": "String", "StringValue": "[" * 100_000}}
    await _send(ops, "orders", {"MessageBody": '{"n": 2}', "MessageAttributes": deep})
    await ops.enqueue("orders", {"n": 1}, AddOptions(job_id="fine"))
    ran: list[str] = []

    async def handle(d: Delivery) -> Outcome:
        from qgen.runtime.backends.base import Completed

        ran.append(d.job_id)
        return Completed(None)

    settings = resolve("orders", QUEUES["orders"], "sqs")
    consumer = ops.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + 30
        while not (ran and (await ops.counts("orders")).failed == 1):
            assert time.monotonic() < deadline and not task.done(), (ran, task)
            await asyncio.sleep(0.1)
    finally:
        await consumer.stop(5)
        await task
    assert len(ran) == 2 and "fine" in ran  # a bad backoff attribute: the queue's backoff
    (dead,) = await _receive(ops, "orders-dead")
    assert "InvalidMessageBody" in dead["MessageAttributes"]["qgen.error"]["StringValue"]


async def test_a_worker_that_cannot_read_the_tag_keeps_its_last_state_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    from qgen.runtime.backends.sqs.consumer import SqsNative
    from qgen.runtime.settings import resolve

    caplog.set_level(logging.WARNING, logger="qgen.sqs")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = await SqsBackend.connect(
        f"sqs://us-east-1?endpoint_url=http://127.0.0.1:{port}&prefix=x-", QUEUES
    )
    try:
        native = SqsNative(backend.calls)
        lane = native.lane(resolve("orders", {}, "sqs"), asyncio.Event())
        assert lane.pause_probe is not None and lane.pause_every == 10  # the URL's default
        lane.paused = True
        assert [await lane.pause_probe() for _ in range(3)] == [True, True, True]
        lane.paused = False
        assert await lane.pause_probe() is False
        failed = [r for r in caplog.records if "reading its paused tag failed" in r.getMessage()]
        assert len(failed) == 1
    finally:
        await backend.close()


async def test_a_throttled_worker_reads_the_tag_less_often_then_comes_back(
    ops: SqsBackend, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.exceptions import ClientError

    from qgen.runtime.backends.sqs.consumer import SqsNative
    from qgen.runtime.settings import resolve

    caplog.set_level(logging.WARNING, logger="qgen.sqs")
    native = SqsNative(ops.calls)
    lane = native.lane(resolve("orders", {}, "sqs"), asyncio.Event())
    assert lane.pause_every == 1  # pause_check=1 in the test URL
    throttled = ClientError({"Error": {"Code": "RequestThrottled", "Message": "slow"}}, "X")
    for _ in range(6):
        native._slow_down(lane, throttled)
    assert lane.pause_every == 16  # doubled, up to 16 times the URL's period
    assert len([r for r in caplog.records if "throttled" in r.getMessage()]) == 4
    for _ in range(40):
        assert lane.pause_probe is not None
        assert await lane.pause_probe() is False  # real reads from the server
    assert lane.pause_every == 1


def test_the_pause_check_period_is_a_url_parameter() -> None:
    from qgen.runtime.backends.sqs.url import parse_sqs_url
    from qgen.runtime.errors import ConfigError

    assert parse_sqs_url("sqs://us-east-1").pause_check_s == 10
    assert parse_sqs_url("sqs://us-east-1?pause_check=30").pause_check_s == 30
    with pytest.raises(ConfigError, match="pause_check"):
        parse_sqs_url("sqs://us-east-1?pause_check=0")

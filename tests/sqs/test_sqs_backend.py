"""The SQS backend's client side and queue creation, against moto's server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.sqs import SqsBackend
from qgen.runtime.backends.sqs.jobs import DelayTooLong
from qgen.runtime.errors import ConfigError, PayloadTooLarge, UnsupportedByBackend
from tests.support.sqs import MotoSqs, url_for


def _receive(srv: MotoSqs, queue_url: str, n: int = 10) -> list[dict[str, Any]]:
    client = srv.client()
    try:
        msgs: list[dict[str, Any]] = client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=n,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        return msgs
    finally:
        client.close()


async def _drain(srv: MotoSqs, queue_url: str, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for _ in range(20):
        got += _receive(srv, queue_url)
        if len(got) >= want:
            break
    return got


async def test_enqueue_sends_the_json_body_and_only_needed_attributes(
    backend: SqsBackend, moto_server: MotoSqs
) -> None:
    job = await backend.enqueue("plain", {"a": 1, "é": "ü"}, AddOptions())
    [msg] = _receive(moto_server, await backend.calls.queue_url("plain"))
    assert json.loads(msg["Body"]) == {"a": 1, "é": "ü"}
    assert msg["MessageId"] == job  # no job_id: the MessageId is the job id
    assert "MessageAttributes" not in msg

    job2 = await backend.enqueue(
        "plain", [1], AddOptions(job_id="mine-1", attempts=7, backoff={"type": "fixed"})
    )
    assert job2 == "mine-1"
    [msg] = _receive(moto_server, await backend.calls.queue_url("plain"))
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert attrs == {
        "qgen.job_id": "mine-1",
        "qgen.attempts": "7",
        "qgen.backoff": '{"type": "fixed"}',
    }


async def test_payload_size_is_checked_in_utf8_bytes(url: str, moto_server: MotoSqs) -> None:
    b = await SqsBackend.connect(url + "&max_message_bytes=100", {"plain": {}})
    try:
        # 40 characters, 120 bytes: over the limit although moto (which counts characters, an
        # AWS difference) would take it; so the check must be ours, before sending.
        with pytest.raises(PayloadTooLarge, match="over the backend's limit of 100") as err:
            await b.enqueue("plain", "€" * 38, AddOptions())
        assert err.value.size == 3 * 38 + 2
        await b.enqueue("plain", "a" * 90, AddOptions())
        with pytest.raises(PayloadTooLarge):  # one bad item: nothing of the batch is sent
            await b.enqueue_many("plain", [("ok", AddOptions()), ("€" * 40, AddOptions())])
        msgs = _receive(moto_server, await b.calls.queue_url("plain"))
        assert [m["Body"] for m in msgs] == ['"' + "a" * 90 + '"']
    finally:
        await b.close()


async def test_default_limit_is_one_mebibyte(backend: SqsBackend) -> None:
    assert backend.url.max_message_bytes == 1_048_576
    with pytest.raises(PayloadTooLarge):
        await backend.enqueue("plain", "x" * 1_048_576, AddOptions())


async def test_delays(backend: SqsBackend, moto_server: MotoSqs) -> None:
    with pytest.raises(DelayTooLong, match="at most 900 s") as err:
        await backend.enqueue("plain", 1, AddOptions(delay=901))
    assert isinstance(err.value, ValueError) and isinstance(err.value, UnsupportedByBackend)
    await backend.enqueue("plain", 1, AddOptions(delay=2))
    url = await backend.calls.queue_url("plain")
    assert _receive(moto_server, url) == []
    assert len(await _drain(moto_server, url, 1)) == 1
    with pytest.raises(UnsupportedByBackend, match="FIFO"):
        await backend.enqueue("jobs.fifo", 1, AddOptions(delay=1))


async def test_add_many_batches_of_ten_in_order(backend: SqsBackend, moto_server: MotoSqs) -> None:
    calls: list[str] = []
    backend.calls.client.meta.events.register(
        "before-call.sqs.*", lambda model, **_: calls.append(model.name)
    )
    items = [({"i": i}, AddOptions(job_id=f"j{i}" if i % 2 else None)) for i in range(23)]
    ids = await backend.enqueue_many("plain", items)
    assert calls.count("SendMessageBatch") == 3
    assert len(ids) == 23 and len(set(ids)) == 23
    assert [ids[i] for i in range(1, 23, 2)] == [f"j{i}" for i in range(1, 23, 2)]
    msgs = await _drain(moto_server, await backend.calls.queue_url("plain"), 23)
    assert sorted(json.loads(m["Body"])["i"] for m in msgs) == list(range(23))


async def test_fifo_group_and_deduplication(backend: SqsBackend, moto_server: MotoSqs) -> None:
    a = await backend.enqueue("jobs.fifo", {"n": 1}, AddOptions(job_id="same"))
    b = await backend.enqueue("jobs.fifo", {"n": 2}, AddOptions(job_id="same"))
    assert a == b == "same"
    await backend.enqueue("jobs.fifo", {"n": 3}, AddOptions(extra={"group": "g2"}))
    msgs = await _drain(moto_server, await backend.calls.queue_url("jobs.fifo"), 2)
    # Deduplicated within SQS's 5-minute window (moto honours this; it does NOT honour it once
    # the first message was deleted, unlike AWS, so no test relies on that).
    assert sorted(json.loads(m["Body"])["n"] for m in msgs) == [1, 3]
    groups = {json.loads(m["Body"])["n"]: m["Attributes"]["MessageGroupId"] for m in msgs}
    assert groups == {1: "default", 3: "g2"}


async def test_status_is_unknown_and_results_are_refused(backend: SqsBackend) -> None:
    job = await backend.enqueue("plain", 1, AddOptions())
    info = await backend.get("plain", job)
    assert info is not None and info.status is JobStatus.UNKNOWN and info.id == job
    with pytest.raises(UnsupportedByBackend, match=r"SQS .* keeps no result"):
        await backend.wait("plain", job, 1)


async def test_missing_queue_without_create_says_how_to_fix(
    moto_server: MotoSqs, prefix: str
) -> None:
    b = await SqsBackend.connect(url_for(moto_server, prefix), {"plain": {}})
    try:
        with pytest.raises(ConfigError, match="qgen sqs create-queues"):
            await b.enqueue("plain", 1, AddOptions())
    finally:
        await b.close()


async def test_invalid_names_refused_at_connect(url: str) -> None:
    with pytest.raises(ConfigError, match="SQS names"):
        await SqsBackend.connect(url, {"a.b": {}})


async def test_provision_creates_queues_with_redrive_idempotently(
    moto_server: MotoSqs, prefix: str
) -> None:
    url = url_for(moto_server, prefix)
    queues: dict[str, dict[str, Any]] = {
        "pay": {"attempts": 4, "visibility_timeout": 50, "dead_letter": "pay-dead"},
        "other": {},
        "o.fifo": {"dead_letter": "dl.fifo"},
    }
    first = list((await SqsBackend.provision(url, queues)).details)
    assert [u.rsplit("/", 1)[1] for u in first] == [
        f"{prefix}{n}" for n in ("dl.fifo", "o.fifo", "other", "pay", "pay-dead")
    ]
    queues["pay"] = {"attempts": 5, "visibility_timeout": 60, "dead_letter": "pay-dead"}
    assert list((await SqsBackend.provision(url, queues)).details) == first
    client = moto_server.client()
    try:
        attrs = client.get_queue_attributes(QueueUrl=first[3], AttributeNames=["All"])["Attributes"]
        policy = json.loads(attrs["RedrivePolicy"])
        assert policy["maxReceiveCount"] == 5
        assert policy["deadLetterTargetArn"].endswith(f":{prefix}pay-dead")
        assert attrs["VisibilityTimeout"] == "60"
        fifo = client.get_queue_attributes(QueueUrl=first[1], AttributeNames=["All"])["Attributes"]
        assert fifo["FifoQueue"] == "true"
    finally:
        client.close()

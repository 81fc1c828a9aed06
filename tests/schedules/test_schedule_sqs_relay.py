"""The SQS claim queue on moto: claims of one tick from several workers make one job, forwarded
once; without a claim queue (a prefix too long for its name), ticks go to the queue directly
and a warning says so."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from support.sqs import delete_queues, new_prefix, server, url_for

from qgen.runtime.backends.registry import open_backend
from qgen.runtime.schedule_runner import relay_of


def _drain(url: str, queue: str) -> list[str]:
    """Bodies of every message of ``queue`` (received and deleted)."""
    srv = server()
    client = srv.client()
    try:
        queue_url = client.get_queue_url(QueueName=queue)["QueueUrl"]
        bodies: list[str] = []
        while True:
            got = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return bodies
            for m in messages:
                bodies.append(m["Body"])
                client.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    finally:
        client.close()


async def test_claims_of_one_tick_make_one_job() -> None:
    prefix = new_prefix()
    url = url_for(server(), prefix, create="1")
    backends = [await open_backend(url, {"ticks": {}}) for _ in range(3)]
    try:
        relays: list[Any] = [relay_of(b) for b in backends]
        for relay in relays:
            await relay.start()
            assert relay.claims_url is not None
        for relay in relays:  # three workers claim the same tick
            await relay.fire("ticks", {"n": 1}, "sched-fast-1000")
        await relays[0].fire("ticks", {"n": 1}, "sched-fast-2000")
        forwarded = [await r.relay_once() for r in relays]
        forwarded += [await r.relay_once() for r in relays]  # nothing left to forward
        assert sum(forwarded) == 2
        bodies = [json.loads(b) for b in _drain(url, prefix + "ticks")]
        assert len(bodies) == 2
        assert all(b == {"n": 1} or b.get("data") == {"n": 1} for b in bodies)
        # a worker claiming the tick again later adds nothing: the claim is kept, hidden
        await relays[2].fire("ticks", {"n": 1}, "sched-fast-1000")
        assert [await r.relay_once() for r in relays] == [0, 0, 0]
    finally:
        for b in backends:
            await b.close()
        delete_queues(server(), prefix)


async def test_without_a_claim_queue_ticks_go_directly(caplog: pytest.LogCaptureFixture) -> None:
    prefix = new_prefix() + "x" * 50  # with the claim queue's name: more than 80 characters
    url = url_for(server(), prefix, create="1")
    backend = await open_backend(url, {"ticks": {}})
    try:
        relay: Any = relay_of(backend)
        with caplog.at_level(logging.WARNING, "qgen.schedules"):
            await relay.start()
        assert relay.claims_url is None
        assert "ticks are sent directly" in caplog.text
        await relay.fire("ticks", {"n": 2}, "sched-fast-3000")
        assert len(_drain(url, prefix + "ticks")) == 1
    finally:
        await backend.close()
        delete_queues(server(), prefix)

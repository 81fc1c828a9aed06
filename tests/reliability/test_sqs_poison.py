"""Poison messages on SQS end in the dead-letter queue after their attempts: through the
worker's own copy when it fails them, and through the queue's redrive policy when every worker
that received them died."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.sqs import SqsBackend
from tests.support.sqs import (
    MotoSqs,
    WorkerProc,
    delete_queues,
    moto_server,
    new_prefix,
    queue_depth,
    read_log,
    url_for,
)

__all__ = ["moto_server"]

pytestmark = pytest.mark.slow

# As in sqs_test_app.CONFIGS (the worker subprocess's wiring).
POISON = {
    "attempts": 2,
    "visibility_timeout": 2,
    "drain_delay": 1,
    "backoff": {"type": "fixed", "delay": 0},
    "dead_letter": "poison-dead",
}


def _dead_letters(srv: MotoSqs, prefix: str, want: int, wait: float = 20) -> list[dict[str, Any]]:
    client = srv.client()
    url = client.get_queue_url(QueueName=prefix + "poison-dead")["QueueUrl"]
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while len(got) < want and time.monotonic() < deadline:
        got += client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
    client.close()
    return got


async def test_poison_job_reaches_the_dead_letter_queue(
    moto_server: MotoSqs, tmp_path: Path
) -> None:
    prefix = new_prefix()
    url = url_for(moto_server, prefix, create="1")
    log = tmp_path / "done.log"
    backend = await SqsBackend.connect(url, {"poison": POISON, "poison-dead": {}})
    worker = WorkerProc(url, "poison", log)
    try:
        await backend.enqueue("poison", {"id": "bad", "kind": "boom"}, AddOptions(job_id="bad"))
        await backend.enqueue_many("poison", [({"id": f"ok{i}"}, AddOptions()) for i in range(5)])
        [dead] = _dead_letters(moto_server, prefix, 1)
        attrs = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
        assert json.loads(dead["Body"]) == {"id": "bad", "kind": "boom"}
        assert attrs["qgen.job_id"] == "bad" and attrs["qgen.source"] == "poison"
        assert json.loads(attrs["qgen.error"])["type"] == "RuntimeError"
        deadline = time.monotonic() + 30
        while len(read_log(log)) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert sorted(j for _, j, _ in read_log(log)) == [f"ok{i}" for i in range(5)]
        # every message deleted, none left in flight to come back after its visibility timeout
        deadline = time.monotonic() + 30
        while queue_depth(moto_server, prefix, "poison") != 0:
            assert time.monotonic() < deadline, queue_depth(moto_server, prefix, "poison")
            await asyncio.sleep(0.2)
        assert worker.terminate() == 0, worker.output()
    finally:
        if worker.proc.poll() is None:
            worker.kill()
        await backend.close()
        delete_queues(moto_server, prefix)


async def test_redrive_moves_a_message_whose_workers_all_died(moto_server: MotoSqs) -> None:
    """Receives that are never acknowledged (what dead workers leave behind) use up the
    attempts; SQS's redrive policy, set up by create_queues, moves the message on the next
    receive. moto performs the move on receive as AWS does."""
    prefix = new_prefix()
    url = url_for(moto_server, prefix, create="1")
    backend = await SqsBackend.connect(url, {"poison": POISON, "poison-dead": {}})
    client = moto_server.client()
    try:
        await backend.enqueue("poison", {"id": "stuck"}, AddOptions(job_id="stuck"))
        queue_url = await backend.calls.queue_url("poison")
        for _ in range(2):  # attempts = 2 receives, each "crashing" (visibility 1 s, no delete)
            got: list[Any] = []
            for _ in range(10):
                got = client.receive_message(
                    QueueUrl=queue_url, VisibilityTimeout=1, WaitTimeSeconds=2
                ).get("Messages", [])
                if got:
                    break
            assert len(got) == 1
        await asyncio.sleep(1.2)
        assert client.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages") in (
            None,
            [],
        )
        [dead] = _dead_letters(moto_server, prefix, 1)
        assert dead["MessageAttributes"]["qgen.job_id"]["StringValue"] == "stuck"
    finally:
        client.close()
        await backend.close()
        delete_queues(moto_server, prefix)

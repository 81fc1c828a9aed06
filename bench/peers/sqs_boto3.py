"""The plain boto3 loop on SQS, as a hand-written worker would do it: ``send_message`` per add,
``send_message_batch`` of 10 for bulk adds, and one thread receiving 10 at a time (long poll),
running them, and deleting them with one ``delete_message_batch``. The floor of what a worker
costs in API calls and the ceiling of what the server allows from one process."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

SINGLE_MAX = 200
BODY = '{"order_id":"o-1","amount":500,"currency":"EUR"}'


def run(url: str, jobs: int) -> dict[str, Any]:
    parts = urlsplit(url)
    endpoint = parse_qs(parts.query).get("endpoint_url", [None])[0]
    client = boto3.client("sqs", region_name=parts.hostname or None, endpoint_url=endpoint)
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call.sqs.*", lambda model, **_: calls.update([model.name]))
    queue = client.create_queue(QueueName=f"boto3-bench-{secrets.token_hex(3)}")["QueueUrl"]
    try:
        n_single = min(jobs // 2, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            client.send_message(QueueUrl=queue, MessageBody=BODY)
        single = n_single / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        rest = jobs - n_single
        for start in range(0, rest, 10):
            entries: Any = [
                {"Id": str(i), "MessageBody": BODY} for i in range(min(10, rest - start))
            ]
            client.send_message_batch(QueueUrl=queue, Entries=entries)
        bulk = rest / max(1e-9, time.perf_counter() - t0)

        calls.clear()
        done = 0
        t0 = time.perf_counter()
        while done < jobs:
            msgs = client.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=30
            ).get("Messages", [])
            if not msgs:
                continue
            done += len(msgs)
            client.delete_message_batch(
                QueueUrl=queue,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)
                ],
            )
        processed = jobs / (time.perf_counter() - t0)
        work = calls["ReceiveMessage"] + calls["DeleteMessageBatch"]
    finally:
        client.delete_queue(QueueUrl=queue)
        client.close()
    return {
        "name": "boto3 loop",
        "single_adds_per_s": single,
        "bulk_adds_per_s": bulk,
        "processed_per_s": processed,
        "calls_per_job": work / jobs,
    }

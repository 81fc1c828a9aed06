"""``qgen setup`` on SQS creates the schedules' claim queue (with the attributes the workers
would give it) when the build has schedules, idempotently, so workers without
``sqs:CreateQueue`` still send ticks through it; on moto."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import sched_project
from botocore.exceptions import ClientError
from support.sqs import delete_queues, new_prefix, server, url_for

from qgen.runtime.backends.registry import open_backend
from qgen.runtime.backends.sqs.schedules import CLAIM_VISIBILITY_S, CLAIMS, RETENTION_S
from qgen.runtime.schedule_runner import relay_of
from tests.golden.harness import run_cli

WANTED = {"FifoQueue": "true", "VisibilityTimeout": "30", "MessageRetentionPeriod": "360"}


def _claim_queue(prefix: str) -> dict[str, str] | None:
    """The claim queue's attributes, None when there is none."""
    client = server().client()
    try:
        urls = client.list_queues(QueueNamePrefix=prefix + CLAIMS).get("QueueUrls", [])
        if not urls:
            return None
        (url,) = urls
        attrs: dict[str, str] = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]
        return attrs
    finally:
        client.close()


def _set_visibility(prefix: str, seconds: int) -> None:
    client = server().client()
    try:
        url = client.get_queue_url(QueueName=prefix + CLAIMS)["QueueUrl"]
        client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})
    finally:
        client.close()


def _deny_create_queue(**_: Any) -> None:
    """What SQS answers a principal without ``sqs:CreateQueue`` (even for an existing queue)."""
    raise ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not authorized: sqs:CreateQueue"}},
        "CreateQueue",
    )


async def _relay_start_without_create_right(url: str) -> str | None:
    """A worker's relay start-up whose CreateQueue calls are refused; its claim queue URL."""
    backend = await open_backend(url, {"ticks": {}})
    try:
        relay: Any = relay_of(backend)
        relay.calls.client.meta.events.register("before-call.sqs.CreateQueue", _deny_create_queue)
        await relay.start()
        return relay.claims_url  # type: ignore[no-any-return]
    finally:
        await backend.close()


def test_setup_creates_the_claim_queue_the_workers_use(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert (CLAIM_VISIBILITY_S, RETENTION_S) == (30, 360)  # what WANTED says
    prefix = new_prefix()
    url = url_for(server(), prefix)  # no create=1: setup makes the queues
    try:
        with caplog.at_level(logging.WARNING, "qgen.schedules"):
            assert asyncio.run(_relay_start_without_create_right(url)) is None  # no setup: no queue
        assert "ticks are sent directly" in caplog.text
        caplog.clear()

        code, out, err = run_cli(sched_project.PROJECT, "setup", "--url", url)
        assert code == 0, err
        attrs = _claim_queue(prefix)
        assert attrs is not None, out
        assert {k: attrs.get(k) for k in WANTED} == WANTED
        claim_lines = [line for line in out.splitlines() if line.endswith(prefix + CLAIMS)]
        assert len(claim_lines) == 1, out
        assert out.startswith("qgen: 4 SQS queue(s) ready\n"), out  # 3 queues + the claims

        _set_visibility(prefix, 99)  # changed by hand: setup sets it back
        again = run_cli(sched_project.PROJECT, "setup", "--url", url)
        assert again == (0, out, "")
        attrs = _claim_queue(prefix)
        assert attrs is not None and {k: attrs.get(k) for k in WANTED} == WANTED

        with caplog.at_level(logging.WARNING, "qgen.schedules"):
            found = asyncio.run(_relay_start_without_create_right(url))
        assert found is not None and found.endswith(prefix + CLAIMS)
        assert "ticks are sent directly" not in caplog.text
    finally:
        delete_queues(server(), prefix)


def test_setup_says_when_the_prefix_leaves_no_room_for_the_claim_queue() -> None:
    prefix = new_prefix() + "x" * 50  # the queues fit in 80 characters, the claim queue not
    url = url_for(server(), prefix)
    try:
        code, out, err = run_cli(sched_project.PROJECT, "setup", "--url", url)
        assert code == 0, err
        assert out.startswith("qgen: 3 SQS queue(s) ready\n"), out
        assert "warning: no schedule claim queue" in out
        assert "workers send ticks directly" in out
        assert _claim_queue(prefix) is None
    finally:
        delete_queues(server(), prefix)

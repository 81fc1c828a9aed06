"""bench/throughput.py's SQS target on the tests' moto server: a fresh prefix whose queues are set
up as ``qgen setup`` would and deleted afterwards, "all done" only once nothing is visible, in
flight or delayed, and ``--workers 2`` refused (SQS cannot count completed jobs)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.support.sqs import REGION, MotoSqs

QUEUE = "bench-noop"


def test_bench_sqs_target_fresh_prefix_and_all_done(moto_server: MotoSqs, tmp_path: Path) -> None:
    from bench.peers import sqs_target

    base = f"sqs://{REGION}?endpoint_url={moto_server.endpoint}"
    client = moto_server.client()
    try:
        with sqs_target.fresh(base, tmp_path, None) as url:
            prefix = dict(parse_qsl(urlsplit(url).query))["prefix"]
            assert prefix.startswith("qgen-bench-")
            queue_url = client.get_queue_url(QueueName=prefix + QUEUE)["QueueUrl"]
            assert sqs_target.all_done(url, QUEUE, 1)  # set up, empty
            client.send_message(QueueUrl=queue_url, MessageBody="{}")
            assert not sqs_target.all_done(url, QUEUE, 1)
            msgs = client.receive_message(QueueUrl=queue_url, VisibilityTimeout=60)["Messages"]
            assert not sqs_target.all_done(url, QUEUE, 1)  # in flight: not done yet
            client.delete_message(QueueUrl=queue_url, ReceiptHandle=msgs[0]["ReceiptHandle"])
            assert sqs_target.all_done(url, QUEUE, 1)
        assert client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) == []
    finally:
        client.close()


def test_bench_refuses_two_sqs_workers(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import throughput

    with pytest.raises(SystemExit) as exc:
        throughput.main(["sqs", "--workers", "1,2"])
    assert exc.value.code == 2
    assert "no count of completed messages" in capsys.readouterr().err

"""The operator commands on SQS (moto), through the contract project's build: approximate
counts with the unknown statuses, pause and resume as the queue tag, and a dead-letter redrive
(dry run, then for real), as the people on call run them."""

from __future__ import annotations

import io
import json
from typing import Any

from support import contract_project  # builds the project: before contract_app

from qgen.cli import main
from tests.support.sqs import MotoSqs

PROJECT = contract_project.PROJECT


def qgen(*argv: str, url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--project", str(PROJECT), "--url", url], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def qgen_json(*argv: str, url: str) -> Any:
    code, out, err = qgen(*argv, "--json", url=url)
    assert code == 0, out + err
    return json.loads(out)


def test_queues_pause_and_resume(url: str) -> None:
    assert qgen_json("queues", "pause", "work", url=url) == {"queue": "work", "paused": True}
    rows = {r["queue"]: r for r in qgen_json("queues", url=url)}
    work = rows["work"]
    assert (work["paused"], work["approximate"]) == (True, True)
    assert work["unknown"] == ["cancelled", "completed", "discarded", "failed"]
    assert rows["doomed"]["unknown"] == ["cancelled", "completed", "discarded"]  # has a DLQ
    code, out, err = qgen("queues", url=url)
    assert code == 0, err
    (line,) = [row for row in out.splitlines() if row.startswith("work ")]
    assert line.split() == ["work", "~0", "~0", "~0", "?", "?", "?", "?", "yes"]
    code, out, _ = qgen("queues", "resume", "work", url=url)
    assert (code, out.strip()) == (0, "work: running")


def test_dlq_redrive_dry_run_then_for_real(url: str, moto_server: MotoSqs, prefix: str) -> None:
    qgen_json("queues", url=url)  # the client creates the queues (create=1)
    client = moto_server.client()
    try:
        dead = client.get_queue_url(QueueName=prefix + "graveyard")["QueueUrl"]
        attrs = {
            "qgen.job_id": {"DataType": "String", "StringValue": "d1"},
            "qgen.source": {"DataType": "String", "StringValue": "doomed"},
        }
        client.send_message(QueueUrl=dead, MessageBody='{"n": 1}', MessageAttributes=attrs)
        client.send_message(QueueUrl=dead, MessageBody='{"n": "one"}')
    finally:
        client.close()
    code, out, err = qgen("dlq", "redrive", "doomed", "--dry-run", "--json", url=url)
    assert code == 1, out + err  # one would stay behind
    dry = json.loads(out)
    assert (dry["dry_run"], dry["moved"], len(dry["kept"])) == (True, ["d1"], 1)
    code, out, err = qgen("dlq", "redrive", "doomed", url=url)
    assert code == 1, out + err  # a dead letter stayed behind
    assert "moved 1 job(s) from graveyard back to doomed" in out
    rows = {r["queue"]: r for r in qgen_json("queues", url=url)}
    assert (rows["doomed"]["waiting"], rows["doomed"]["failed"]) == (1, 1)

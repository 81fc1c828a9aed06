"""The Lambda handler, fed real ReceiveMessage results from moto reshaped as Lambda events."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qgen.runtime.config_keys import normalize_config
from qgen.runtime.lambda_host import make_handler
from tests.support.sqs import REGION, MotoSqs, lambda_event

HERE = Path(__file__).resolve().parent
APP = "sqs_test_app"


def _manifest(tmp_path: Path, configs: dict[str, dict[str, Any]]) -> Path:
    queues = {
        name: {
            "accessor": name.replace("-", "_").replace(".", "_"),
            "function": f"{APP}:run_job",
            "is_async": True,
            "takes_interaction": True,
            "input_type": "Job",
            "output_type": "None",
            "input_schema": f"schemas/{name}.input.json",
            "output_schema": None,
            "config": normalize_config(name, config),
            "wiring_module": APP,
        }
        for name, config in configs.items()
    }
    path = tmp_path / "manifest.json"
    path.write_text(
        json.dumps(
            {
                "format": 1,
                "out_package": "app.generated",
                "project_root": str(HERE),
                "services": f"{APP}:create_services",
                "wiring_modules": [APP],
                "queues": queues,
            }
        )
    )
    return path


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, prefix: str, moto_server: MotoSqs) -> Iterator[Any]:
    """A fresh import of the test app with an empty wiring registry (other tests in this
    process may have wired other queues)."""
    monkeypatch.setattr("qgen.runtime.wiring._REGISTRY", {})
    monkeypatch.delitem(sys.modules, APP, raising=False)
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv(
        "QGEN_URL",
        f"sqs://{REGION}?endpoint_url={moto_server.endpoint}&prefix={prefix}&create=1",
    )
    import importlib

    module = importlib.import_module(APP)
    yield module
    sys.modules.pop(APP, None)


def _send(srv: MotoSqs, queue_url: str, body: Any, **kw: Any) -> str:
    client = srv.client()
    try:
        text = body if isinstance(body, str) else json.dumps(body)
        return str(client.send_message(QueueUrl=queue_url, MessageBody=text, **kw)["MessageId"])
    finally:
        client.close()


def _queue_url(srv: MotoSqs, prefix: str, name: str) -> str:
    client = srv.client()
    try:
        return str(client.get_queue_url(QueueName=prefix + name)["QueueUrl"])
    finally:
        client.close()


def test_handler_reports_only_failed_records(
    app: Any, tmp_path: Path, moto_server: MotoSqs, prefix: str
) -> None:
    handler = make_handler(_manifest(tmp_path, app.CONFIGS))
    handler({"Records": []}, None)  # first call: loads the app, creates the queues (create=1)
    assert len(app.CREATED) == 1
    lam = _queue_url(moto_server, prefix, "lam")
    ids = {
        kind: _send(moto_server, lam, {"id": kind, "kind": kind})
        for kind in ("ok", "boom", "discard", "retry-once")
    }
    bad = _send(moto_server, lam, "not json")
    invalid = _send(moto_server, lam, {"kind": "no id"})
    result = handler(lambda_event(moto_server, lam, 6), None)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    assert failed == {ids["boom"], ids["retry-once"]}  # retried; the rest may be deleted
    assert ("ok", 1) in app.CALLS and ("discard", 1) in app.CALLS
    assert not any(i == "no id" for i, _ in app.CALLS)

    # Invalid input (validation or not JSON) went to the dead-letter queue at once.
    dead = lambda_event(moto_server, _queue_url(moto_server, prefix, "lam-dead"), 2)
    copies = {r["messageAttributes"]["qgen.job_id"]["stringValue"] for r in dead["Records"]}
    assert copies == {bad, invalid}

    # The retried records come back after the 2 s backoff (set through visibility), not the
    # queue's 30 s visibility timeout; the second attempt of retry-once succeeds.
    t0 = time.monotonic()
    again = lambda_event(moto_server, lam, 2, wait=20)
    assert time.monotonic() - t0 < 15  # far sooner than the 30 s visibility timeout
    counts = {r["messageId"]: r["attributes"]["ApproximateReceiveCount"] for r in again["Records"]}
    assert counts == {ids["boom"]: "2", ids["retry-once"]: "2"}
    result = handler(again, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [ids["boom"]]
    assert ("retry-once", 2) in app.CALLS

    # Third and last attempt of boom: failed for good, copied to the DLQ, reported as success.
    last = lambda_event(moto_server, lam, 1, wait=8)
    assert handler(last, None) == {"batchItemFailures": []}
    dead = lambda_event(moto_server, _queue_url(moto_server, prefix, "lam-dead"), 1)
    [copy] = dead["Records"]
    assert copy["messageAttributes"]["qgen.job_id"]["stringValue"] == ids["boom"]
    error = json.loads(copy["messageAttributes"]["qgen.error"]["stringValue"])
    assert error["type"] == "RuntimeError" and "boom" in error["message"]
    assert len(app.CREATED) == 1  # services were created once for the container


def test_fifo_records_after_a_failure_are_not_run(
    app: Any, tmp_path: Path, moto_server: MotoSqs, prefix: str
) -> None:
    handler = make_handler(_manifest(tmp_path, app.CONFIGS))
    handler({"Records": []}, None)
    fifo = _queue_url(moto_server, prefix, "lam.fifo")
    kinds = ["ok", "boom", "ok2"]
    sent = [
        _send(
            moto_server,
            fifo,
            {"id": k, "kind": "boom" if k == "boom" else "ok"},
            MessageGroupId="g",
            MessageDeduplicationId=k,
        )
        for k in kinds
    ]
    event = lambda_event(moto_server, fifo, 3)
    assert [r["messageId"] for r in event["Records"]] == sent
    result = handler(event, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == sent[1:]
    assert app.CALLS == [("ok", 1), ("boom", 1)]


def test_records_of_an_unknown_queue_fail(
    app: Any, tmp_path: Path, moto_server: MotoSqs, prefix: str
) -> None:
    handler = make_handler(_manifest(tmp_path, app.CONFIGS))
    record = {
        "messageId": "m1",
        "receiptHandle": "r",
        "body": "{}",
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{prefix}elsewhere",
    }
    assert handler({"Records": [record]}, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}

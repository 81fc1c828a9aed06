"""The generated AWS Lambda module (``<out>/workers/sqs_lambda.py``) run on SQS events built
from real ReceiveMessage results of moto's server: jobs added through the generated client run,
and only the attempt that must be retried is reported as a batch item failure. SQS only: the
Lambda handler serves SQS event source mappings."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from contract_app import jobs
from contract_app.jobs import Task
from contract_harness import BackendCase, project_wiring_only
from support import contract_project
from support.sqs import backend_url, lambda_event, queue_url_at, server

from qgen.runtime.manifest import load_manifest


def test_generated_lambda_handler_runs_jobs_and_reports_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with backend_url(tmp_path) as url:
        monkeypatch.setenv("QGEN_URL", url)  # where a deployed Lambda finds its queues
        case = BackendCase("sqs", url, tmp_path)
        with case.sync_client() as client:
            client.retry.add(Task(n=1))
            client.retry.add(Task(n=2, mode="boom"))
        event = lambda_event(server(), queue_url_at(url, "retry"), 2)
        assert len(event["Records"]) == 2
        manifest = load_manifest(contract_project.MANIFEST)
        with project_wiring_only(manifest):
            module = importlib.import_module("contract_app.generated.workers.sqs_lambda")
            module = importlib.reload(module)  # a fresh container: a cold start
            result = module.handler(event, None)
    by_n = {json.loads(r["body"])["n"]: r["messageId"] for r in event["Records"]}
    assert result == {"batchItemFailures": [{"itemIdentifier": by_n[2]}]}
    assert sorted(data.n for _, _, data, _, _ in jobs.SEEN["retry"]) == [1, 2]

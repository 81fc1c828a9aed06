"""The operator commands (``qgen queues / jobs / dlq / workers``) on Redis, with the contract
project: what tests/cli/test_cli_ops.py checks on SQLite, here against BullMQ's keys, with a
worker process started from the generated worker module."""

from __future__ import annotations

import io
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import contract_project  # builds the project: before contract_app

# isort: split
from contract_app.jobs import Task
from support.redis import backend_url

from qgen.cli import main

PROJECT = contract_project.PROJECT
CONTRACT = str(Path(__file__).resolve().parents[1] / "contract")  # contract_harness


def qgen(*argv: str, url: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--project", str(PROJECT), "--url", url], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def qgen_json(*argv: str, url: str) -> Any:
    code, out, err = qgen(*argv, "--json", url=url)
    assert code == 0, out + err
    return json.loads(out)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


def client(url: str) -> Any:
    from contract_app.generated.client import QueueClient

    return QueueClient.from_url(url)


def test_queues_jobs_cancel_retry_pause_and_clean(redis_url: str) -> None:
    url = redis_url
    with client(url) as c:
        for n in range(3):
            c.work.add(Task(n=n), job_id=f"j{n}")
        c.work.add(Task(n=9), job_id="d", delay=60)
    rows = {row["queue"]: row for row in qgen_json("queues", url=url)}
    assert (rows["work"]["waiting"], rows["work"]["delayed"], rows["work"]["paused"]) == (
        3,
        1,
        False,
    )
    page = qgen_json("jobs", "ls", "work", "--limit", "2", url=url)
    assert [j["id"] for j in page["jobs"]] == ["j2", "j1"]
    rest = qgen_json("jobs", "ls", "work", "--cursor", page["next_cursor"], url=url)
    assert [j["id"] for j in rest["jobs"]] == ["j0"] and rest["next_cursor"] is None
    assert [
        j["id"] for j in qgen_json("jobs", "ls", "work", "--status", "delayed", url=url)["jobs"]
    ] == ["d"]
    assert qgen("jobs", "cancel", "work", "j1", url=url)[0] == 0
    assert qgen_json("jobs", "show", "work", "j1", url=url)["status"] == "cancelled"
    assert qgen("jobs", "cancel", "work", "j1", url=url)[0] == 1  # finished now
    assert qgen("jobs", "retry", "work", "j0", url=url)[0] == 1  # waiting: nothing to do
    assert qgen_json("jobs", "retry", "work", "j1", url=url)["retried"] is True
    assert qgen_json("jobs", "show", "work", "j1", url=url)["status"] == "waiting"
    assert qgen_json("queues", "pause", "work", url=url) == {"queue": "work", "paused": True}
    assert {r["queue"]: r["paused"] for r in qgen_json("queues", url=url)}["work"] is True
    code, out, _ = qgen("queues", "resume", "work", url=url)
    assert (code, out.strip()) == (0, "work: running")
    code, out, _ = qgen("queues", "clean", "work", "--status", "completed", url=url)
    assert (code, out.strip()) == (0, "work: deleted 0 completed job(s)")


def test_redrive_and_workers_with_a_worker_process(redis_url: str, tmp_path: Path) -> None:
    if CONTRACT not in sys.path:
        sys.path.insert(0, CONTRACT)
    from contract_harness import BackendCase, worker_process

    url = redis_url
    proc = worker_process(BackendCase("redis", url, tmp_path), ["doomed"])
    try:
        with client(url) as c:
            c.doomed.add(Task(n=1, mode="boom"), job_id="d1")
        deadline = time.monotonic() + 60
        while not qgen_json("jobs", "ls", "graveyard", url=url)["jobs"]:
            assert time.monotonic() < deadline and proc.poll() is None, "no dead letter"
            time.sleep(0.1)
        (seen,) = qgen_json("workers", url=url)
        assert (seen["pid"], seen["queues"], seen["backend"]) == (proc.pid, ["doomed"], "redis")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert qgen_json("workers", url=url) == []  # a clean stop unregisters
    dry = qgen_json("dlq", "redrive", "doomed", "--dry-run", url=url)
    assert (dry["dry_run"], dry["moved"], dry["kept"]) == (True, ["d1"], [])
    code, out, _ = qgen("dlq", "redrive", "doomed", url=url)
    assert code == 0 and "moved 1 job(s) from graveyard back to doomed" in out
    shown = qgen_json("jobs", "show", "doomed", "d1", url=url)
    assert (shown["status"], shown["attempts_made"]) == ("waiting", 0)
    assert qgen_json("jobs", "ls", "graveyard", url=url)["jobs"] == []  # the copy is gone

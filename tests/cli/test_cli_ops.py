"""The operator commands (``qgen queues / jobs / dlq / workers``) on the contract project:
tables and JSON, exit codes 0/1/2, the URL from --url / $QGEN_URL / the project's file, and the
capability table's reason for what a backend cannot do. The semantics of each operation are
the contract suite's (tests/contract/test_contract_ops_*.py); these cases check the command.

Cases on a backend that does not implement an operation yet are strict xfails keyed by the
contract suite's one table (tests/support/ops_pending.py)."""

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
from support.ops_pending import pending_on

from qgen.cli import main
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.capabilities import Feature, feature

PROJECT = contract_project.PROJECT


def qgen(*argv: str, url: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = [*argv, "--project", str(PROJECT)] + (["--url", url] if url else [])
    return main(args, out=out, err=err), out.getvalue(), err.getvalue()


def qgen_json(*argv: str, url: str) -> Any:
    code, out, err = qgen(*argv, "--json", url=url)
    assert code == 0, out + err
    return json.loads(out)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    from support.sqlite import backend_url

    with backend_url(tmp_path) as url:
        yield url


def client(url: str) -> Any:
    from contract_app.generated.client import QueueClient

    return QueueClient.from_url(url)


# -- what a backend cannot do: no server needed, the table decides first ---------------------

SQS_URL = "sqs://us-east-1?endpoint_url=http://127.0.0.1:9&prefix=never-"
UNSUPPORTED_ON_SQS = [
    (("jobs", "ls", "work"), Feature.LIST_JOBS),
    (("jobs", "show", "work", "some-id"), Feature.LIST_JOBS),
    (("jobs", "cancel", "work", "some-id"), Feature.CANCEL),
    (("jobs", "retry", "work", "some-id"), Feature.RETRY),
    (("jobs", "retry", "work", "--all-failed"), Feature.RETRY),
    (("queues", "clean", "work", "--status", "completed"), Feature.CLEAN),
    (("workers",), Feature.WORKERS),
]


@pytest.mark.parametrize(("argv", "feat"), UNSUPPORTED_ON_SQS, ids=lambda v: str(v))
def test_unsupported_operations_print_the_reason_and_exit_2(
    argv: tuple[str, ...], feat: Feature
) -> None:
    code, out, err = qgen(*argv, url=SQS_URL)
    assert code == 2, out + err
    assert feature(feat, "sqs").note in err
    assert err.startswith("qgen: the sqs backend does not support")
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    "argv",
    [
        ("jobs", "ls", "nope"),
        ("jobs", "ls", "work", "--limit", "0"),
        ("jobs", "ls", "work", "--cursor", "%%%"),
        ("jobs", "retry", "work"),
        ("queues", "clean", "work", "--status", "completed", "--older-than", "soon"),
        ("dlq", "redrive", "work"),  # no dead_letter
    ],
    ids=lambda v: " ".join(v),
)
def test_bad_arguments_exit_2_with_one_line(argv: tuple[str, ...], sqlite_url: str) -> None:
    code, out, err = qgen(*argv, url=sqlite_url)
    assert code == 2, out + err
    assert err.startswith("qgen: ") and len(err.strip().splitlines()) == 1, err


# -- on a backend that can (SQLite: embedded, always here) -------------------------------------


def test_queues_lists_every_queue_with_counts(
    sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    pending_on("sqlite", request, Feature.COUNTS)
    with client(sqlite_url) as c:
        c.work.add(Task(n=1))
        c.work.add(Task(n=2), delay=60)
    rows = {row["queue"]: row for row in qgen_json("queues", url=sqlite_url)}
    assert set(rows) == set(client(sqlite_url).QUEUES)
    assert (rows["work"]["waiting"], rows["work"]["delayed"], rows["work"]["paused"]) == (
        1,
        1,
        False,
    )
    code, out, _ = qgen("queues", url=sqlite_url)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == [
        "QUEUE", "WAITING", "DELAYED", "ACTIVE", "COMPLETED", "FAILED", "DISCARDED",
        "CANCELLED", "PAUSED",
    ]  # fmt: skip
    (work,) = [line.split() for line in lines if line.split()[0] == "work"]
    assert work == ["work", "1", "1", "0", "0", "0", "0", "0", "no"]


def test_the_url_comes_from_qgen_url_else_the_projects_file(
    sqlite_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending_on("sqlite", request, Feature.COUNTS)
    with client(sqlite_url) as c:
        c.work.add(Task(n=1))
    monkeypatch.setenv("QGEN_URL", sqlite_url)
    code, out, err = qgen("queues", "--json")
    assert code == 0, err
    assert {r["queue"]: r["waiting"] for r in json.loads(out)}["work"] == 1
    monkeypatch.delenv("QGEN_URL")
    code, out, err = qgen("queues", "--json")  # the project's own file: nothing added there
    assert code == 0, err
    assert {r["queue"]: r["waiting"] for r in json.loads(out)}["work"] == 0
    assert (PROJECT / ".qgen" / "jobs.db").is_file()


def test_jobs_ls_show_cancel_and_retry(sqlite_url: str, request: pytest.FixtureRequest) -> None:
    pending_on("sqlite", request, Feature.LIST_JOBS, Feature.CANCEL, Feature.RETRY)
    with client(sqlite_url) as c:
        for n in range(3):
            c.work.add(Task(n=n), job_id=f"j{n}")
    page = qgen_json("jobs", "ls", "work", "--limit", "2", url=sqlite_url)
    assert [j["id"] for j in page["jobs"]] == ["j2", "j1"]
    code, out, _ = qgen("jobs", "ls", "work", "--limit", "2", url=sqlite_url)
    assert code == 0 and f"--cursor {page['next_cursor']}" in out
    rest = qgen_json("jobs", "ls", "work", "--cursor", page["next_cursor"], url=sqlite_url)
    assert [j["id"] for j in rest["jobs"]] == ["j0"] and rest["next_cursor"] is None
    shown = qgen_json("jobs", "show", "work", "j1", url=sqlite_url)
    assert (shown["status"], shown["data"]["n"], shown["data_error"]) == ("waiting", 1, None)
    assert qgen("jobs", "show", "work", "missing", url=sqlite_url)[0] == 1
    assert qgen("jobs", "cancel", "work", "j1", url=sqlite_url)[0] == 0
    assert qgen_json("jobs", "show", "work", "j1", url=sqlite_url)["status"] == "cancelled"
    assert qgen("jobs", "cancel", "work", "j1", url=sqlite_url)[0] == 1  # finished now
    assert qgen("jobs", "retry", "work", "j0", url=sqlite_url)[0] == 1  # waiting: nothing to do
    assert qgen_json("jobs", "retry", "work", "j1", url=sqlite_url) == {
        "queue": "work",
        "id": "j1",
        "retried": True,
    }
    assert qgen_json("jobs", "show", "work", "j1", url=sqlite_url)["status"] == "waiting"
    assert qgen_json("jobs", "retry", "work", "--all-failed", url=sqlite_url)["retried"] == 0


def test_show_escapes_what_a_producer_stored(
    sqlite_url: str, request: pytest.FixtureRequest
) -> None:
    pending_on("sqlite", request, Feature.LIST_JOBS)
    hostile = "\x1b]0;pwned\x07\x1b[2J\u202eevil"
    with client(sqlite_url) as c:
        backend = c._run(c._core._connect())  # another producer: no validation
        c._run(backend.enqueue("work", {"n": hostile}, AddOptions(job_id="x")))
    code, out, _ = qgen("jobs", "show", "work", "x", url=sqlite_url)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "data error:" in out and "\\u001b" in out  # shown escaped, as JSON escapes it
    code, out, _ = qgen("jobs", "ls", "work", url=sqlite_url)
    assert code == 0 and "\x1b" not in out


def test_pause_resume_and_clean(sqlite_url: str, request: pytest.FixtureRequest) -> None:
    pending_on("sqlite", request, Feature.PAUSE, Feature.CLEAN, Feature.COUNTS)
    assert qgen_json("queues", "pause", "work", url=sqlite_url) == {
        "queue": "work",
        "paused": True,
    }
    rows = {r["queue"]: r for r in qgen_json("queues", url=sqlite_url)}
    assert rows["work"]["paused"] is True and rows["retry"]["paused"] is False
    code, out, _ = qgen("queues", "resume", "work", url=sqlite_url)
    assert (code, out.strip()) == (0, "work: running")
    code, out, _ = qgen(
        "queues", "clean", "work", "--status", "failed", "--older-than", "7d", url=sqlite_url
    )
    assert (code, out.strip()) == (0, "work: deleted 0 failed job(s)")


def test_redrive_and_workers_with_a_worker_process(
    sqlite_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    pending_on("sqlite", request, Feature.REDRIVE, Feature.WORKERS, Feature.LIST_JOBS)
    sys.path.insert(0, str(Path(__file__).parents[1] / "contract"))  # run alone, too
    from contract_harness import BackendCase, worker_process

    proc = worker_process(BackendCase("sqlite", sqlite_url, tmp_path), ["doomed"])
    try:
        with client(sqlite_url) as c:
            c.doomed.add(Task(n=1, mode="boom"), job_id="d1")
        deadline = time.monotonic() + 60
        while not qgen_json("jobs", "ls", "graveyard", url=sqlite_url)["jobs"]:
            assert time.monotonic() < deadline and proc.poll() is None, "no dead letter"
            time.sleep(0.1)
        (seen,) = qgen_json("workers", url=sqlite_url)
        assert (seen["pid"], seen["queues"]) == (proc.pid, ["doomed"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert qgen_json("workers", url=sqlite_url) == []  # a clean stop unregisters
    dry = qgen_json("dlq", "redrive", "doomed", "--dry-run", url=sqlite_url)
    assert (dry["dry_run"], dry["moved"], dry["kept"]) == (True, ["d1"], [])
    code, out, _ = qgen("dlq", "redrive", "doomed", url=sqlite_url)
    assert code == 0 and "moved 1 job(s) from graveyard back to doomed" in out
    assert qgen_json("jobs", "show", "doomed", "d1", url=sqlite_url)["status"] == "waiting"


@pytest.mark.parametrize(
    "argv",
    [
        ["queues"],
        ["queues", "clean"],
        ["jobs", "ls"],
        ["jobs", "retry"],
        ["dlq", "redrive"],
        ["workers"],
    ],
)
def test_help_of_every_operator_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: qgen {' '.join(argv)}")
    assert "Exit codes: 0 done, 1 not found" in " ".join(text.split())

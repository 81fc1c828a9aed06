"""Issue 10 item 15: a worker started against a server it cannot reach (or a SQLite file it
cannot open), and ``qgen migrate`` against an unreachable PostgreSQL, say so in one line with
the password masked and exit 2, as every other start-up refusal does; no traceback."""

from __future__ import annotations

import io
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_harness import ROOT, WIRING, subprocess_env

from qgen.cli import main as qgen_main
from qgen.runtime.capabilities import BACKENDS

SECRET = "s3cr3t-pw"


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _unreachable_url(backend: str, tmp_path: Path) -> str:
    port = _closed_port()
    if backend == "sqlite":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the queue file's directory should be")
        return f"sqlite:///{blocker}/jobs.db"
    if backend == "redis":
        return f"redis://:{SECRET}@127.0.0.1:{port}/0"
    if backend == "postgres":
        return f"postgresql://u:{SECRET}@127.0.0.1:{port}/test"
    # SQS takes its credentials from boto3's chain; create=1 reaches the server at start-up
    return f"sqs://us-east-1?endpoint_url=http://127.0.0.1:{port}&create=1"


@pytest.mark.parametrize("backend", BACKENDS)
def test_worker_start_against_an_unreachable_server(backend: str, tmp_path: Path) -> None:
    url = _unreachable_url(backend, tmp_path)
    env = subprocess_env()
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")  # never real ones
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    proc = subprocess.run(
        [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", WIRING,
         "--queues", "h-record", "--log-level", "ERROR"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith(f"qgen worker: cannot connect to the {backend} backend at "), output
    assert "Traceback" not in output and SECRET not in output


def test_migrate_against_an_unreachable_server() -> None:
    url = f"postgresql://u:{SECRET}@127.0.0.1:{_closed_port()}/test"
    out, err = io.StringIO(), io.StringIO()
    code = qgen_main(["migrate", "--url", url], out=out, err=err)
    text = out.getvalue() + err.getvalue()
    assert code == 2, text
    assert text.startswith("qgen: cannot connect to the postgres backend at 'postgresql://u:***@")
    assert len(text.strip().splitlines()) == 1 and "internal error" not in text
    assert SECRET not in text


def test_worker_logs_never_show_a_password(tmp_path: Path) -> None:
    """An SQS worker without create=1 keeps polling an unreachable endpoint, logging each
    failure; the endpoint's credentials in those lines are masked."""
    url = f"sqs://us-east-1?endpoint_url=http://key:{SECRET}@127.0.0.1:{_closed_port()}"
    env = subprocess_env()
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", WIRING,
             "--queues", "h-record", "--grace", "1"],
            cwd=ROOT, env=env, stdout=sink, stderr=sink,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while "failed" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    text = log.read_text()
    assert "receive from SQS queue" in text and "http://key:***@127.0.0.1" in text, text
    assert SECRET not in text


def test_sqs_create_queues_against_an_unreachable_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.golden.harness import build_case, run_cli

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")  # never real credentials
    project = build_case("shop", tmp_path)
    url = f"sqs://us-east-1?endpoint_url=http://key:{SECRET}@127.0.0.1:{_closed_port()}"
    code, out, err = run_cli(project, "sqs", "create-queues", "--url", url)
    assert code == 2, out + err
    assert err.startswith("qgen: cannot connect to the sqs backend at 'sqs://us-east-1?"), err
    assert "Could not connect to the endpoint URL" in err, err
    assert "internal error" not in err and SECRET not in out + err
    assert len(err.strip().splitlines()) == 1

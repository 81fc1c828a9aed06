"""Restart PostgreSQL while a worker runs jobs: the worker reconnects with backoff and goes on;
nothing is lost. The server is always brought back (and checked) before the test ends."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.postgres import PostgresBackend
from tests.postgres.pg_app import CONFIG
from tests.postgres.pg_helpers import WorkerProc, pg_url, read_log, rows
from tests.support.postgres import SERVER
from tests.support.require import missing

__all__ = ["pg_url"]
pytestmark = pytest.mark.slow
JOBS = 400


def _cluster() -> tuple[str, str]:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.name.isdigit())
    if not versions:
        missing("no local PostgreSQL cluster to restart")
    return versions[-1], "main"


def _ctl(action: str) -> None:
    version, name = _cluster()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action],
        check=True,
        timeout=120,
        capture_output=True,
    )


def _server_up(timeout: float = 60) -> None:
    """Start the server if it is down, and wait until it accepts connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(SERVER, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            version, name = _cluster()
            status = subprocess.run(
                ["pg_ctlcluster", version, name, "status"], capture_output=True, timeout=30
            )
            if status.returncode == 3:  # stopped
                _ctl("start")
            time.sleep(0.5)


async def _wait_for(pred: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():  # type: ignore[operator]
                return
        except psycopg.OperationalError:
            pass  # the server is still coming back
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_worker_survives_a_server_restart(pg_url: str, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    backend = await PostgresBackend.connect(pg_url, {"jobs": CONFIG})
    worker: WorkerProc | None = None
    try:
        items = [({"n": i, "secs": 0.1}, AddOptions(job_id=f"j{i}")) for i in range(JOBS)]
        await backend.enqueue_many("jobs", items)
        worker = WorkerProc(pg_url, log)
        await _wait_for(lambda: len(read_log(log)) >= 60, 60, "first runs")
        try:
            await asyncio.to_thread(_ctl, "restart")
        finally:
            await asyncio.to_thread(_server_up)
        before = len(read_log(log))
        assert before < JOBS, "the restart came too late to matter"
        # jobs added after the restart through the same client reach the same worker
        late = await backend.enqueue("jobs", {"n": -1}, AddOptions(job_id="late"))
        await _wait_for(
            lambda: (
                rows(pg_url, "SELECT count(*) FROM {s}.job WHERE state = 'completed'")
                == [(JOBS + 1,)]
            ),
            120,
            "all jobs completed",
        )
        assert worker.proc.poll() is None, worker.output()  # it never crashed
        assert worker.terminate() == 0
        out = worker.output()
        assert "connection lost" in out and "reconnect" in out
        runs = read_log(log)
        assert {j for _, j, _ in runs} == {f"j{i}" for i in range(JOBS)} | {late}
    finally:
        await asyncio.to_thread(_server_up)
        if worker is not None:
            worker.kill()
        await backend.close()

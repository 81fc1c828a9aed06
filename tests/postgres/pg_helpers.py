"""Helpers of the PostgreSQL tests: consumers with handlers written here, SQL peeks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from qgen.runtime.backends.base import Delivery, Outcome
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.settings import resolve
from tests.support.postgres import backend_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    """A fresh schema on the local server (also imported by tests/reliability)."""
    with backend_url(tmp_path) as url:
        yield url


@contextlib.asynccontextmanager
async def consuming(
    backend: PostgresBackend,
    handle: Callable[[Delivery], Awaitable[Outcome]],
    queue: str = "q",
    grace: float = 5.0,
    **config: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    settings = resolve(queue, {"batch_size": 10, **config}, "postgres")
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        yield task
    finally:
        await consumer.stop(grace)
        await asyncio.wait_for(task, 30)


async def until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Run ``query`` with ``{s}`` standing for the test's schema."""
    pg = parse_url(url)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        cur = conn.execute(sql.SQL(query).format(s=sql.Identifier(pg.schema)), params)
        return cur.fetchall() if cur.description else []


class WorkerProc:
    def __init__(self, url: str, log: Path, queues: str = "jobs") -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["QGEN_PG_TEST_LOG"] = str(log)
        cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url]
        cmd += ["--wiring", "tests.postgres.pg_app", "--queues", queues, "--grace", "5"]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read().decode(errors="replace")


def read_log(log: Path) -> list[tuple[int, str, int]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), parts[1], int(parts[2])))
    return out

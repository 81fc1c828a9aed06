"""Helpers of the dashboard tests: the test project built with `qgen build`, a real worker
process, the dashboard served by `qgen dashboard`, Debian's chromium, and a look at what the
backend stores (to prove a refused job was never written)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

PROJECT_SOURCE = Path(__file__).resolve().parent / "project"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "test-token-0123456789abcdef"
START_TIMEOUT = 60.0


def build_project(dest: Path) -> Path:
    """A copy of the test project with its generated package (`qgen build`)."""
    shutil.copytree(PROJECT_SOURCE, dest, ignore=shutil.ignore_patterns("generated", ".qgen"))
    done = subprocess.run(
        [sys.executable, "-m", "qgen.cli", "build"],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return dest


def outward_address() -> str | None:
    """This machine's address on its default route (not loopback), or None without one. A UDP
    socket's connect sends nothing; it only picks the source address."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.254.254.254", 9))
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QGEN_URL", "QGEN_DASHBOARD_TOKEN")}
    paths = [str(project), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def worker(
    project: Path, backend: str, url: str, log: Path, package: str = "dashapp.generated"
) -> Iterator[subprocess.Popen[Any]]:
    """The project's generated worker for ``backend`` in its own process."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"{package}.workers.{backend}", "--url", url],
            cwd=project,
            env=_env(project),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            _stop(proc)


def _wait_until_up(base: str, proc: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qgen dashboard exited: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base}/static/dashboard.css", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"qgen dashboard did not start: {log.read_text(errors='replace')}")


@contextlib.contextmanager
def dashboard(
    project: Path,
    url: str,
    log: Path,
    *,
    token: str | None = TOKEN,
    read_only: bool = False,
    host: str = "127.0.0.1",
) -> Iterator[str]:
    """`qgen dashboard` on ``host`` and a free port; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "qgen.cli", "dashboard", "--project", str(project)]
    cmd += ["--url", url, "--port", str(port), "--host", host]
    if token:
        cmd += ["--token", token]
    if read_only:
        cmd.append("--read-only")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=project, env=_env(project), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://{host}:{port}"
            _wait_until_up(base, proc, log)
            yield base
        finally:
            _stop(proc)


def stored_jobs(url: str, queue: str) -> int:
    """How many jobs of ``queue`` the backend holds, read from its own tables."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///").split("?")[0])
        if not path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(path)) as conn:
            try:
                row = conn.execute("SELECT count(*) FROM qgen_jobs WHERE queue = ?", (queue,))
            except sqlite3.OperationalError:  # no table: nothing was ever written
                return 0
            return int(row.fetchone()[0])
    if url.startswith("redis://"):
        return _redis_jobs(url, queue)
    import psycopg
    from psycopg import sql

    schema = parse_qs(urlsplit(url).query)["schema"][0]
    server = url.split("?")[0]
    with psycopg.connect(server, autocommit=True) as conn:
        try:
            query = sql.SQL("SELECT count(*) FROM {}.job WHERE queue = %s").format(
                sql.Identifier(schema)
            )
            found = conn.execute(query, (queue,)).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(found[0]) if found else 0


def _redis_jobs(url: str, queue: str) -> int:
    """BullMQ keeps each job in a hash at ``<prefix>:<queue>:<id>`` with ``data`` and
    ``timestamp`` fields; the queue's own keys beside it are not jobs."""
    import redis

    prefix = parse_qs(urlsplit(url).query)["prefix"][0]
    client = redis.Redis.from_url(url.split("?")[0])
    try:
        count = 0
        for key in client.scan_iter(match=f"{prefix}:{queue}:*", count=1000):
            if client.type(key) == b"hash" and client.hexists(key, "timestamp"):
                count += int(client.hexists(key, "data"))
        return count
    finally:
        client.close()


def require_chromium() -> None:
    import pytest

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium")


def wait_for(probe: Any, ok: Any, what: str, timeout: float = 60.0) -> Any:
    """Call ``probe`` until ``ok(value)``; fail with the last value after ``timeout`` s (a
    deadline for a hung test, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    value = probe()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        time.sleep(0.05)
        value = probe()
    return value


class Api:
    """The project's generated async client, run from synchronous tests: what the operator
    API says, to compare the pages with, and raw writes a client would refuse."""

    def __init__(self, manifest: Path, url: str) -> None:
        from qgen.runtime.manifest import load_manifest
        from qgen.runtime.project_client import client_class

        self.cls = client_class(load_manifest(manifest))
        self.url = url

    def run(self, op: Any) -> Any:
        """``op(client)`` (a coroutine function) on a fresh client, in a thread of its own
        (Playwright's sync API keeps an event loop running in the test's thread)."""
        import asyncio
        from concurrent.futures import ThreadPoolExecutor

        async def main() -> Any:
            client = self.cls(self.url)
            try:
                return await op(client)
            finally:
                await client.close()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, main()).result()

    def counts(self, queue: str) -> dict[str, Any]:
        async def op(client: Any) -> Any:
            return (await client.queue(queue).counts()).as_dict()

        return dict(self.run(op))

    def status(self, queue: str, job_id: str) -> str:
        async def op(client: Any) -> Any:
            return (await client.queue(queue).get(job_id).status()).value

        return str(self.run(op))

    def add(self, queue: str, data: Any, **options: Any) -> str:
        async def op(client: Any) -> Any:
            return (await client.queue(queue).add(data, **options)).id

        return str(self.run(op))

    def raw_add(self, queue: str, data: Any, job_id: str) -> None:
        """A job the queue's schema refuses (as an older producer may have left)."""
        from qgen.runtime.backends.base import AddOptions

        async def op(client: Any) -> Any:
            backend = await client._connect()
            await backend.enqueue(queue, data, AddOptions(job_id=job_id))

        self.run(op)

"""Several processes on one SQLite file: sharing work, and recovering from a killed worker."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    JobStatus,
    Outcome,
)
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.settings import resolve
from tests.unit.sqlite.sqlite_helpers import rows, run_until

PROC = Path(__file__).with_name("sqlite_consumer_proc.py")
ROOT = Path(__file__).resolve().parents[3]


def spawn(url: str, mode: str, log: Path, visibility: float = 30) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, str(PROC), url, "q", mode, str(log), str(visibility)]
    return subprocess.Popen(args, env=env)


def lines(log: Path) -> list[list[str]]:
    return [ln.split() for ln in log.read_text().splitlines()] if log.exists() else []


async def wait_for(cond: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_two_processes_share_the_work_and_never_overlap(
    backend: SqliteBackend, tmp_path: Path
) -> None:
    url = f"sqlite:///{backend.url.path}"
    log = tmp_path / "log"
    procs = [spawn(url, "record", log) for _ in range(2)]
    try:
        await wait_for(lambda: sum(1 for ln in lines(log) if ln[2] == "ready") == 2)
        ids = []
        for i in range(300):  # single adds while both consume
            ids.append(await backend.enqueue("q", i, AddOptions()))
        await wait_for(
            lambda: (
                rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='completed'") == [(300,)]
            )
        )
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            assert p.wait(15) == 0
    starts = collections.Counter(ln[1] for ln in lines(log) if ln[2] == "start")
    assert set(starts) == set(ids) and set(starts.values()) == {1}  # each job ran once
    pids = collections.Counter(ln[0] for ln in lines(log) if ln[2] == "end")
    assert len(pids) == 2 and min(pids.values()) > 30, pids  # both took a real share


async def test_killed_worker_jobs_are_recovered(backend: SqliteBackend, tmp_path: Path) -> None:
    url = f"sqlite:///{backend.url.path}"
    ids = [await backend.enqueue("q", i, AddOptions()) for i in range(3)]
    log = tmp_path / "log"
    proc = spawn(url, "hang", log, visibility=1)
    try:
        await wait_for(lambda: sum(1 for ln in lines(log) if ln[2] == "start") == 3)
    finally:
        proc.kill()
        proc.wait()
    assert rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='active'") == [(3,)]
    seen: list[int] = []

    async def handle(d: Delivery) -> Outcome:
        seen.append(d.attempt)
        return Completed("again")

    async def done() -> bool:
        return rows(backend, "SELECT count(*) FROM qgen_jobs WHERE state='completed'") == [(3,)]

    t = time.monotonic()
    settings = [resolve("q", {"visibility_timeout": 1, "poll_interval": 20}, "sqlite")]
    await run_until(backend, settings, handle, done)
    assert time.monotonic() - t < 20  # after the 1 s leases ran out, not never
    assert seen == [1, 1, 1]  # a stall is not an attempt
    assert rows(backend, "SELECT stalled, attempts_made FROM qgen_jobs") == [(1, 1)] * 3
    for job_id in ids:
        info = await backend.get("q", job_id)
        assert info is not None and info.result == "again"


async def test_stalled_too_often_fails_to_dead_letter(
    backend: SqliteBackend, tmp_path: Path
) -> None:
    url = f"sqlite:///{backend.url.path}"
    job_id = await backend.enqueue("q", "poison", AddOptions(job_id="p1"))
    log = tmp_path / "log"
    proc = spawn(url, "hang", log, visibility=1)
    try:
        await wait_for(lambda: any(ln[2] == "start" for ln in lines(log)))
    finally:
        proc.kill()
        proc.wait()

    async def handle(d: Delivery) -> Outcome:
        raise AssertionError("must not run again")

    async def failed() -> bool:
        info = await backend.get("q", job_id)
        return info is not None and info.status is JobStatus.FAILED

    config = {"visibility_timeout": 1, "max_stalled_count": 0, "dead_letter": "dead"}
    await run_until(backend, [resolve("q", config, "sqlite")], handle, failed)
    info = await backend.get("q", job_id)
    assert info is not None and info.error is not None and info.error.type == "JobStalled"
    copy = await backend.get("dead", "p1")
    assert copy is not None and copy.status is JobStatus.WAITING and copy.data == "poison"


def test_processes_creating_one_fresh_file_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = (
        "import asyncio, sys\n"
        "from qgen.runtime.backends.sqlite import SqliteBackend\n"
        "from qgen.runtime.backends.base import AddOptions\n"
        "async def main():\n"
        "    b = await SqliteBackend.connect(sys.argv[1], {})\n"
        "    await b.enqueue('q', 1, AddOptions())\n"
        "    await b.close()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, url], env=env) for _ in range(6)]
    assert [p.wait(60) for p in procs] == [0] * 6
    assert rows(url, "SELECT count(*) FROM qgen_jobs") == [(6,)]
    assert rows(url, "PRAGMA journal_mode") == [("wal",)]

"""Item 4: a worker meeting a job made by an older schema says so. A producer built from the
locked v1 adds a job; the source changes incompatibly and is locked as v2; the v2 worker (the
generated module, in its own process) fails the job with the schema difference in the error.
SQS keeps no status of a failed job, so there the worker's log is what is read."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.backends.registry import open_backend
from tests.lock.lock_project import qgen, source, write_project

V1 = "class In(BaseModel):\n    a: int\n"
V2 = "class In(BaseModel):\n    a: int\n    currency: str\n"
BACKENDS = ["sqlite", "redis", "postgres", "sqs"]
HINT = (
    "this job was likely made by schema version 1 of queue 'q'; changes since: "
    "field 'currency' added as required (version 2)"
)


@contextlib.contextmanager
def backend_url(name: str, tmp_path: Path) -> Iterator[str]:
    module = __import__(f"support.{name}", fromlist=["backend_url"])
    with module.backend_url(tmp_path) as url:
        yield url


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "QGEN_URL"}
    return subprocess.run(
        [sys.executable, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


async def _finished(url: str, job_id: str, deadline: float) -> JobInfo:
    backend = await open_backend(url, {"q": {}})
    try:
        while True:
            info = await backend.get("q", job_id)
            if info is not None and info.status.finished:
                return info
            assert time.monotonic() < deadline, f"job still {info.status if info else None}"
            await asyncio.sleep(0.1)
    finally:
        await backend.close()


@pytest.mark.parametrize("name", BACKENDS)
async def test_worker_names_the_schema_version(tmp_path: Path, name: str) -> None:
    project = write_project(tmp_path / "p", source(V1))
    assert qgen(project, "lock")[0] == 0
    with backend_url(name, tmp_path) as url:
        add = (
            "from shop.generated.client import QueueClient\n"
            f"QueueClient.from_url({url!r}).q.add({{'a': 1}}, job_id='old-1')\n"
        )
        produced = _run(project, "-c", add)  # the old producer, with the v1 client
        assert produced.returncode == 0, produced.stderr

        (project / "shop" / "jobs.py").write_text(source(V2), encoding="utf-8")
        code, _, err = qgen(project, "lock")
        assert code == 0, err

        log = tmp_path / "worker.log"
        with log.open("wb") as sink:
            worker = subprocess.Popen(
                [sys.executable, "-m", f"shop.generated.workers.{name}", "--url", url],
                cwd=project,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        try:
            if name == "sqs":
                while HINT not in log.read_text(errors="replace"):
                    assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
                    await asyncio.sleep(0.1)
            else:
                info = await _finished(url, "old-1", deadline)
        finally:
            worker.send_signal(signal.SIGTERM)
            await asyncio.to_thread(worker.wait, 60)
    assert HINT in log.read_text(errors="replace")  # the worker's log says it
    if name != "sqs":
        assert info.status is JobStatus.FAILED
        assert info.error is not None and info.error.type == "ValidationFailed"
        message = info.error.message
        assert message.startswith("invalid data for queue 'q': currency: Field required")
        assert message.endswith("; " + HINT)

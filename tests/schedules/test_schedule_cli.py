"""``qgen schedules``: next fire time and the last tick's job, read from a real backend."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import sched_project

from qgen.cli import main
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.manifest import load_manifest
from qgen.runtime.schedule_runner import ScheduleRunner


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["schedules", "--project", str(sched_project.PROJECT), *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def _start_nightly(url: str) -> int:
    """What a worker of the digest queue does at start: catch-up fires the last nightly tick."""
    manifest = load_manifest(sched_project.MANIFEST)
    backend = await open_backend(url, {"digest": {}})
    try:
        runner = ScheduleRunner(backend, [manifest.schedules["nightly"]])
        await runner.start()
        return len(runner.fired)
    finally:
        await backend.close()


def test_schedules_lists_next_and_last_fire(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'jobs.db').resolve()}"
    assert asyncio.run(_start_nightly(url)) == 1
    code, out, err = _run("--url", url, "--json")
    assert code == 0, err
    rows = {r["name"]: r for r in json.loads(out)}
    assert sorted(rows) == ["fast", "fast-fifo", "nightly"]
    nightly = rows["nightly"]
    assert nightly["when"] == "cron 30 2 * * * (Europe/Berlin)"
    assert nightly["next"][11:23] == "02:30:00.000" and nightly["next"] > nightly["last_tick"]
    assert nightly["last"] == f"fired: job {nightly['last_job_id']} is waiting"
    assert rows["fast"]["last"].startswith("not fired: no job sched-fast-")
    assert rows["fast"]["when"] == "every 400 ms"

    code, out, _ = _run("--url", url)
    assert code == 0
    assert f"nightly -> digest: cron 30 2 * * * (Europe/Berlin)\n  next: {nightly['next']}" in out


def test_schedules_without_a_backend_still_say_when() -> None:
    code, out, _ = _run()
    assert code == 0
    assert "fast -> ticks: every 400 ms" in out
    assert "unknown: no backend (pass --url or set QGEN_URL)" in out

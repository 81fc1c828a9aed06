"""``qgen schedules``: next fire time and the last tick's job, read from a real backend."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest
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


def test_list_shows_schedules_under_their_queue() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["list", "--project", str(sched_project.PROJECT)], out=out, err=err) == 0, err
    text = out.getvalue()
    assert 'schedule fast: every 400 ms data={"n":1}' in text
    assert 'schedule nightly: cron 30 2 * * * (Europe/Berlin) data={"kind":"nightly"}' in text
    out = io.StringIO()
    assert main(["list", "--project", str(sched_project.PROJECT), "--json"], out=out) == 0
    rows = {r["queue"]: r for r in json.loads(out.getvalue())}
    assert rows["digest"]["schedules"]["nightly"]["tz"] == "Europe/Berlin"
    assert sorted(rows["ticks"]["schedules"]) == ["fast"]


async def test_worker_warns_when_the_code_differs_from_the_build(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from qgen.runtime import schedules
    from qgen.runtime.schedule_runner import running

    manifest = load_manifest(sched_project.MANIFEST)
    saved = dict(schedules._REGISTRY)
    schedules._REGISTRY.clear()
    try:
        schedules.wire_schedule(name="fast", queue="ticks", every=500, data={"n": 1})
        schedules.wire_schedule(name="extra", queue="ticks", every=500, data={"n": 1})
        with caplog.at_level(logging.WARNING, "qgen.schedules"):
            async with running(object(), manifest, []) as runner:  # type: ignore[arg-type]
                assert runner is None  # no served queue: nothing fires
    finally:
        schedules._REGISTRY.clear()
        schedules._REGISTRY.update(saved)
    assert [r.getMessage() for r in caplog.records] == [
        "schedule extra is not in the build: the build's schedules fire; run `qgen build`",
        "schedule fast changed since the build: the build's schedules fire; run `qgen build`",
        "schedule fast-fifo is no longer wired: the build's schedules fire; run `qgen build`",
        "schedule nightly is no longer wired: the build's schedules fire; run `qgen build`",
    ]

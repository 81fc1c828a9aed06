"""Worker start-up: wiring import, manifest checks, autorun, unsupported keys, main()."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import contract_project

from qgen import JobStatus
from qgen.runtime.errors import ConfigError
from qgen.runtime.manifest import load_manifest
from qgen.runtime.wiring import registered
from qgen.runtime.worker import load_app

ROOT = Path(__file__).resolve().parents[3]
# the contract suite's test project (contract_app), built by support.contract_project
PYTHONPATH = os.pathsep.join([str(contract_project.PROJECT), str(ROOT)])
WIRING = "contract_app.wiring"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "QGEN_URL"}
    env["PYTHONPATH"] = PYTHONPATH
    env.update(extra)
    return env


def write_manifest(
    tmp_path: Path, change: dict[str, Any] | None = None, *, fresh_process: bool = False
) -> Path:
    """A manifest as ``qgen build`` would write it for the contract app: for a fresh worker
    process its queues alone; in this process every queue wired so far (other tests may have
    imported more wiring)."""
    from contract_app import wiring  # noqa: F401  (wires its queues in this process)

    queues = {}
    for name, w in registered().items():
        if fresh_process and w.func.__module__ != "contract_app.jobs":
            continue  # the queues of contract_app.wiring alone
        queues[name] = {
            "accessor": name.replace("-", "_"),
            "function": f"{w.func.__module__}:{w.func.__qualname__}",
            "is_async": True,
            "takes_interaction": True,
            "input_type": "X",
            "output_type": "Y",
            "input_schema": f"schemas/{name}.input.json",
            "output_schema": None,
            "config": dict(w.config),
            "wiring_module": WIRING,
        }
    raw: dict[str, Any] = {
        "format": 1,
        "out_package": "app.generated",
        "project_root": ".",
        "services": None,
        "wiring_modules": [WIRING],
        "queues": queues,
    }
    for key, value in (change or {}).items():
        q, field = key.split(".")
        queues[q][field] = value
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(raw))
    return path


async def test_autorun_false_is_consumed_only_when_named() -> None:
    app = await load_app(wiring_modules=[WIRING], services=None, backend="sqlite")
    names = {s.name for s in app.settings}
    assert "work" in names and "manual" not in names
    await app.close()
    app = await load_app(
        wiring_modules=[WIRING], services=None, backend="sqlite", queues=["manual"]
    )
    assert [s.name for s in app.settings] == ["manual"]
    assert list(app.runners) == ["manual"]
    assert app.settings[0].attempts == 1  # typed settings, defaults filled in
    assert app.settings[0].batch_size == 10
    assert "batch_size" not in app.settings[0].given
    await app.close()


async def test_unknown_queue_refused() -> None:
    with pytest.raises(ConfigError, match="unknown queue"):
        await load_app(wiring_modules=[WIRING], services=None, backend="sqlite", queues=["nope"])


async def test_unsupported_keys_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="qgen.worker"):
        app = await load_app(
            wiring_modules=[WIRING], services=None, backend="redis", queues=["work"]
        )
    await app.close()
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "queue work: config key 'poll_interval' is ignored by the redis backend" in text
    assert caplog.records[0].queue == "work"  # type: ignore[attr-defined]


async def test_wiring_import_error_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot import wiring module 'qgen_missing_mod'"):
        await load_app(wiring_modules=["qgen_missing_mod"], services=None, backend="sqlite")


async def test_manifest_matches(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path))
    app = await load_app(
        wiring_modules=[WIRING], services=None, backend="sqlite", manifest=manifest
    )
    await app.close()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"work.config": {"attempts": 9}}, "'work': its config changed"),
        ({"work.function": "contract_app.jobs:notify"}, "wired to contract_app.jobs:work"),
        ({"work.function": "contract_app.nope:work"}, "cannot import module"),
    ],
)
async def test_manifest_mismatch_refused(
    tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    manifest = load_manifest(write_manifest(tmp_path, change))
    with pytest.raises(ConfigError, match=match) as info:
        await load_app(wiring_modules=[WIRING], services=None, backend="sqlite", manifest=manifest)
    assert "qgen build" in str(info.value)


def test_cli_refuses_a_broken_wiring_with_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/jobs.db"
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", "qgen_nope"]
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "cannot import wiring module 'qgen_nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_main_refuses_a_stale_build_with_exit_2(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"work.config": {"attempts": 9}}, fresh_process=True)
    code = (
        "import sys; from pathlib import Path; from qgen.runtime.worker import main; "
        f"sys.exit(main([], backend='sqlite', manifest=Path({str(path)!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "run `qgen build`" in proc.stderr


def test_main_refuses_a_url_of_another_backend(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, fresh_process=True)
    code = (
        "import sys; from pathlib import Path; from qgen.runtime.worker import main; "
        f"sys.exit(main(['--url', 'redis://127.0.0.1:1/0'], backend='sqlite', "
        f"manifest=Path({str(path)!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert "sqlite worker but the URL is for redis" in proc.stderr


async def test_main_runs_on_the_default_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    from contract_app.generated.client import AsyncQueueClient
    from contract_app.jobs import Task

    path = write_manifest(tmp_path, fresh_process=True)
    code = (
        "import sys; from pathlib import Path; from qgen.runtime.worker import main; "
        f"sys.exit(main(['--queues', 'work', '--grace', '5'], backend='sqlite', "
        f"manifest=Path({str(path)!r})))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        default_url = load_manifest(path).default_url
        assert default_url == f"sqlite:///{tmp_path}/.qgen/jobs.db"
        deadline = time.monotonic() + 30
        while not (tmp_path / ".qgen").exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0].decode()
            await asyncio.sleep(0.05)
        async with AsyncQueueClient(default_url) as client:
            handle = await client.add("work", Task(n=5))
            result = await handle.result(timeout=30)
            assert result.model_dump() == {"n": 5, "attempt": 1}
            assert await handle.status() is JobStatus.COMPLETED
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
        assert proc.returncode == 0, out
        text = out.decode()
        assert "worker started on sqlite" in text and "worker stopped" in text
        assert "[work " in text or "[- -]" in text  # the CLI format shows queue and job id
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_second_signal_stops_without_waiting(tmp_path: Path) -> None:
    from contract_app.generated.client import AsyncQueueClient
    from contract_app.jobs import Task

    url = f"sqlite:///{tmp_path}/jobs.db"
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", url, "--wiring", WIRING]
    cmd += ["--queues", "work", "--grace", "60"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with AsyncQueueClient(url) as client:
            handle = await client.add("work", Task(n=1, sleep=60))
            deadline = time.monotonic() + 30
            while await handle.status() is not JobStatus.ACTIVE:
                assert time.monotonic() < deadline and proc.poll() is None
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            assert proc.poll() is None  # first signal: waiting for the running job
            proc.send_signal(signal.SIGTERM)
            out, _ = await asyncio.to_thread(proc.communicate, timeout=10)
            assert proc.returncode == 0, out
            assert b"second signal" in out
            # given back, or still leased until its lease runs out: never failed or lost
            assert await handle.status() in (JobStatus.ACTIVE, JobStatus.WAITING)
    finally:
        if proc.poll() is None:
            proc.kill()

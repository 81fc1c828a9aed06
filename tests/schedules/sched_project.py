"""The schedules tests' project (tests/schedules/project), built once per test session.

Importing this module copies the project to a temporary folder, runs ``qgen build`` on the
copy and puts the copy first on ``sys.path``, as ``support.contract_project`` does for the
contract suite.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from qgen.cli import main as qgen_main

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path(__file__).resolve().parent / "project"
GENERATED = "sched_app.generated"


def _build() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="qgen-sched-"))
    atexit.register(shutil.rmtree, tmp, True)
    project = tmp / "project"
    shutil.copytree(
        SOURCE, project, ignore=shutil.ignore_patterns("__pycache__", "generated", ".qgen")
    )
    out, err = io.StringIO(), io.StringIO()
    if qgen_main(["build", "--project", str(project)], out=out, err=err) != 0:
        raise RuntimeError(f"qgen build of the schedules project failed:\n{err.getvalue()}")
    return project


PROJECT = _build()
MANIFEST = PROJECT / GENERATED.replace(".", "/") / "manifest.json"
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT), str(ROOT), *(p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    out.update(extra or {})
    return out


def worker(backend: str, url: str, queues: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m sched_app.generated.workers.<backend>`` serving ``queues``; job runs are
    appended to ``log``."""
    cmd = [sys.executable, "-m", f"{GENERATED}.workers.{backend}", "--url", url]
    cmd += ["--queues", ",".join(queues), "--grace", "5"]
    return subprocess.Popen(
        cmd,
        cwd=PROJECT,
        env=env({"SCHED_LOG": str(log)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def runs(log: Path) -> list[str]:
    """The job ids run so far, one per run, in order."""
    try:
        return [line for line in log.read_text("utf-8").splitlines() if line]
    except FileNotFoundError:
        return []

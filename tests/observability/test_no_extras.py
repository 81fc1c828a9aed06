"""Without qgen[otel] and qgen[metrics] nothing changes: jobs are added and run, neither
library is imported, and ``--metrics-port`` says which extra it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import obs_project

HERE = Path(__file__).resolve().parent


def test_without_the_extras_jobs_run_and_nothing_is_imported(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    proc = subprocess.run(
        [sys.executable, str(HERE / "no_extras.py"), url],
        cwd=obs_project.PROJECT,
        env=obs_project.env({}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["attempt"] == 1
    assert out["tracing"] is False
    assert out["loaded"] == []
    assert "qgen[metrics]" in out["refused"]

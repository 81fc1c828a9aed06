"""What loads what: workers, clients and the CLI never load the dashboard or its libraries;
the dashboard reaches the queues through the client only (no worker, no codegen, no concrete
backend until the client connects)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from qgen.runtime.capabilities import IMPLEMENTATIONS


def loaded_after(code: str, project: Path) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(project)}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_workers_clients_and_the_cli_do_not_load_the_dashboard(built_project: Path) -> None:
    modules = loaded_after(
        "import dashapp.generated.client, dashapp.generated.workers.sqlite\n"
        "import qgen.cli; qgen.cli._parser()",
        built_project,
    )
    assert "qgen.dashboard.app" not in modules
    assert not {m for m in modules if m.split(".")[0] in ("starlette", "uvicorn", "jinja2")}


def test_the_dashboard_loads_no_worker_codegen_or_backend(built_project: Path) -> None:
    manifest = built_project / "dashapp" / "generated" / "manifest.json"
    modules = loaded_after(
        "from qgen.dashboard import create_app\n"
        f"create_app(manifest={str(manifest)!r}, url='sqlite:///jobs.db')",
        built_project,
    )
    assert "qgen.dashboard.app" in modules and "dashapp.generated.client" in modules
    backends = {path.split(":")[0] for path in IMPLEMENTATIONS.values()}
    forbidden = {"qgen.runtime.worker", "qgen.runtime.runner", "qgen.codegen", *backends}
    assert modules & forbidden == set()
    assert not {m for m in modules if m.startswith("dashapp.functions")}  # no job code

"""The contract suite's test project (tests/contract/project), built once per test session.

Importing this module copies the project to a temporary folder, runs ``qgen build`` on the
copy and puts the copy first on ``sys.path``, so ``contract_app`` (the user's code) and
``contract_app.generated`` (what qgen made of it: client, models, manifest, worker modules)
come from there. Import it before anything imports ``contract_app``. Building fresh every
session means the tests always drive what the qgen under test generates; nothing generated is
committed that could go stale.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from qgen.cli import main as qgen_main

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "contract" / "project"
GENERATED = "contract_app.generated"


def _build() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="qgen-contract-"))
    atexit.register(shutil.rmtree, tmp, True)
    project = tmp / "project"
    shutil.copytree(
        SOURCE, project, ignore=shutil.ignore_patterns("__pycache__", "generated", ".qgen")
    )
    out, err = io.StringIO(), io.StringIO()
    code = qgen_main(["build", "--project", str(project)], out=out, err=err)
    if code != 0:
        report = out.getvalue() + err.getvalue()
        raise RuntimeError(f"qgen build of the contract project failed:\n{report}")
    return project


PROJECT = _build()
MANIFEST = PROJECT / GENERATED.replace(".", "/") / "manifest.json"
if str(PROJECT) in sys.path:
    sys.path.remove(str(PROJECT))
sys.path.insert(0, str(PROJECT))


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker subprocess: the built project and this checkout importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(PROJECT), str(ROOT), *(p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    env.update(extra or {})
    return env


def worker_command(backend: str, *args: str) -> list[str]:
    """``python -m contract_app.generated.workers.<backend> ...``: the generated worker module,
    run as its README says."""
    return [sys.executable, "-m", f"{GENERATED}.workers.{backend}", *args]

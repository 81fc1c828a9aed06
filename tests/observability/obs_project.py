"""The observability tests' project (tests/observability/project), built once per session the
way ``support.contract_project`` builds the contract project: a copy, ``qgen build`` on it, the
copy first on ``sys.path`` (``obs_app`` and ``obs_app.generated``)."""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

from qgen.cli import main as qgen_main

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SOURCE = HERE / "project"


def _build() -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="qgen-obs-"))
    atexit.register(shutil.rmtree, tmp, True)
    project = tmp / "project"
    shutil.copytree(
        SOURCE, project, ignore=shutil.ignore_patterns("__pycache__", "generated", ".qgen")
    )
    out, err = io.StringIO(), io.StringIO()
    if qgen_main(["build", "--project", str(project)], out=out, err=err) != 0:
        raise RuntimeError(f"qgen build of the observability project failed:\n{out.getvalue()}")
    return project


PROJECT = _build()
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def env(extra: dict[str, str]) -> dict[str, str]:
    """A worker subprocess's environment: the built project and this checkout importable."""
    out = dict(os.environ)
    paths = [str(PROJECT), str(ROOT), str(HERE)]
    out["PYTHONPATH"] = os.pathsep.join(
        [*paths, *(p for p in out.get("PYTHONPATH", "").split(os.pathsep) if p)]
    )
    out.update(extra)
    return out

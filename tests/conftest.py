"""Shared test set-up: the checkout under test first on every import path, logging with queue
and job id, and a run in which no test passed counted as a failure.

The import path is set before anything imports ``qgen``: a virtualenv may hold another copy
(an editable install of another clone), and the tests must exercise this one. Subprocesses
inherit it through ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

# The repo root (``qgen``, ``tests.*``) and tests/ (``support.<backend>``, the URL providers).
for _path in (str(TESTS), str(ROOT)):
    if _path in sys.path:
        sys.path.remove(_path)
    sys.path.insert(0, _path)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
)

import qgen  # noqa: E402
from qgen.runtime import logs  # noqa: E402

if not Path(qgen.__file__).resolve().is_relative_to(ROOT):
    raise RuntimeError(
        f"tests of {ROOT} imported qgen from {qgen.__file__}: another copy was imported first"
    )

logs.install()


_PASSED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        _PASSED.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A green run must have run something: all skipped, or nothing collected, fails."""
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) and not _PASSED:
        print("\nno test passed (all skipped, or none ran): failing", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

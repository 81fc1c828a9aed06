"""Shared test set-up: import paths for the test apps, and logging with queue/job id."""

from __future__ import annotations

import sys
from pathlib import Path

from qgen.runtime import logs

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
CONTRACT = TESTS / "contract"

# ``support.<backend>`` (URL providers) and the contract suite's app package (``contract_app``),
# which in-process workers import here and worker subprocesses get through PYTHONPATH.
for path in (str(ROOT), str(TESTS), str(CONTRACT)):
    if path not in sys.path:
        sys.path.insert(0, path)

logs.install()

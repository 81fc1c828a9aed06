"""Shared test set-up: import paths for the test apps, and logging with queue/job id."""

from __future__ import annotations

import sys
from pathlib import Path

from qgen.runtime import logs

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "tests" / "contract"

# The contract suite's app package (``contract_app``) is imported by in-process workers and by
# worker subprocesses (which get the same paths through PYTHONPATH).
for path in (str(ROOT), str(CONTRACT)):
    if path not in sys.path:
        sys.path.insert(0, path)

logs.install()

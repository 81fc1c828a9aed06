"""The hostile-input suite (issue 10): a bad job, row, message or argument fails alone with a
clear qgen error that names it, and the queue keeps moving, on every backend it applies to.

The ``backend`` fixture runs a case on every backend of ``capabilities.BACKENDS`` against a
fresh, isolated place on a real server (``tests/support/<backend>.py``), as the contract suite
does; skips come only from the capability table.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # hostile_app, also for worker subprocesses (PYTHONPATH)

from hostile_app import jobs  # noqa: E402
from hostile_harness import HostileCase  # noqa: E402

from qgen.runtime.capabilities import BACKENDS, IMPLEMENTATIONS  # noqa: E402


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HostileCase]:
    name: str = request.param
    provider = importlib.import_module(f"support.{name}")
    importlib.import_module(IMPLEMENTATIONS[name].split(":")[0])
    with provider.backend_url(tmp_path) as url:
        yield HostileCase(name, url, tmp_path)


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    jobs.SEEN.clear()
    yield
    jobs.SEEN.clear()

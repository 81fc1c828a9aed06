"""The one ``backend`` fixture of the contract suite: every case runs on every backend.

The suite drives the code ``qgen build`` generates for the test project in
tests/contract/project (built once per session by ``support.contract_project``): its client,
its manifest and its worker modules. Each backend has ``tests/support/<backend>.py`` with a
``backend_url(tmp_path)`` context manager that yields a fresh, isolated place on a real server.
A backend whose provider or implementation is missing is skipped locally and fails under
``QGEN_REQUIRE_ALL=1`` (CI); a case a backend cannot support is skipped by reading
``qgen.runtime.capabilities``, never by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import contract_project  # noqa: F401  (builds the project: before contract_app)
from support.require import missing

# isort: split
from contract_app import jobs
from contract_harness import BackendCase

from qgen.runtime.capabilities import BACKENDS, IMPLEMENTATIONS


def _import_or_fail(module: str) -> object:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            missing(f"backend not built yet ({module} is missing)")
        raise


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendCase]:
    name: str = request.param
    provider = _import_or_fail(f"support.{name}")
    _import_or_fail(IMPLEMENTATIONS[name].split(":")[0])
    with provider.backend_url(tmp_path) as url:  # type: ignore[attr-defined]
        yield BackendCase(name, url, tmp_path)


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    jobs.SEEN.clear()
    jobs.GATES.clear()
    jobs.EVENTS.clear()
    jobs.STARTED.clear()
    yield
    for gate in jobs.GATES.values():
        gate.set()

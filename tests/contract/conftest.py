"""The one ``backend`` fixture of the contract suite: every case runs on every backend.

Each backend helper provides ``tests/support/<backend>.py`` with a ``backend_url(tmp_path)``
context manager that yields a fresh, isolated place on a real server. A backend whose provider
or implementation module does not exist yet is skipped ("backend not built yet"); a case a
backend cannot support is skipped by reading ``qgen.runtime.capabilities``, never by name.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from contract_app import jobs
from contract_harness import BackendCase

from qgen.runtime.capabilities import BACKENDS, IMPLEMENTATIONS


def _import_or_skip(module: str) -> object:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module.startswith(exc.name):
            pytest.skip(f"backend not built yet ({module} is missing)")
        raise


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendCase]:
    name: str = request.param
    provider = _import_or_skip(f"support.{name}")
    _import_or_skip(IMPLEMENTATIONS[name].split(":")[0])
    with provider.backend_url(tmp_path) as url:  # type: ignore[attr-defined]
        yield BackendCase(name, url, tmp_path)


@pytest.fixture(autouse=True)
def _fresh_records() -> Iterator[None]:
    jobs.SEEN.clear()
    jobs.GATES.clear()
    yield
    for gate in jobs.GATES.values():
        gate.set()

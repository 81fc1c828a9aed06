"""The one table of operator operations (issue 14) a backend does not implement yet, and the
helper every operator contract case starts with.

Each backend's helper removes its entries as it lands them. The cases are marked
``xfail(strict=True)`` while listed, so a case that starts passing while its operation is
still listed fails the run: the table cannot lag behind the code. A case a backend cannot
support at all is skipped by the capability table, never by this table.
"""

from __future__ import annotations

from typing import Protocol

import pytest

from qgen.runtime.capabilities import Feature


class Case(Protocol):
    """What :func:`operation` needs of a contract ``BackendCase`` (the CLI tests use it too)."""

    @property
    def name(self) -> str: ...

    def require(self, *features: Feature) -> None: ...


OPERATIONS = frozenset(
    {"counts", "list_jobs", "cancel", "retry", "pause", "clean", "redrive", "workers"}
    | {"retention_age"}
)

# backend -> operations not implemented yet (Feature values of the operator rows).
NOT_YET: dict[str, frozenset[str]] = {
    "sqlite": frozenset(),
    "redis": frozenset(),
    "postgres": frozenset(),
    "sqs": frozenset(),
}


def operation(backend: Case, request: pytest.FixtureRequest, *features: Feature) -> None:
    """Skip when the capability table says the backend cannot do one of ``features``; mark the
    case a strict xfail while one of them is still in :data:`NOT_YET`."""
    backend.require(*features)
    pending_on(backend.name, request, *features)


def pending_on(name: str, request: pytest.FixtureRequest, *features: Feature) -> None:
    """Mark the running case a strict xfail while one of ``features`` is pending on ``name``."""
    pending = sorted(f.value for f in features if f.value in NOT_YET[name])
    if pending:
        reason = f"operator API not yet implemented on {name}: {', '.join(pending)}"
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=reason))

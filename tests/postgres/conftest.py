"""Fixtures of the PostgreSQL backend tests: a fresh schema per test on the local server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from qgen.runtime.backends.postgres import PostgresBackend
from tests.support.postgres import backend_url


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresBackend]:
    backend = await PostgresBackend.connect(pg_url, {"q": {"attempts": 3}})
    try:
        yield backend
    finally:
        await backend.close()

"""Fixtures of the PostgreSQL backend tests: a fresh schema per test on the local server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from qgen.runtime.backends.postgres import PostgresBackend
from tests.postgres.pg_helpers import pg_url

__all__ = ["pg_url"]


@pytest.fixture
async def pg(pg_url: str) -> AsyncIterator[PostgresBackend]:
    backend = await PostgresBackend.connect(pg_url, {"q": {"attempts": 3}})
    try:
        yield backend
    finally:
        await backend.close()

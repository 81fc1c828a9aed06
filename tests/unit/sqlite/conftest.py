from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from qgen.runtime.backends.sqlite import SqliteBackend
from tests.support.sqlite import backend_url


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as u:
        yield u


@pytest.fixture
async def backend(url: str) -> AsyncIterator[SqliteBackend]:
    b = await SqliteBackend.connect(url, {"q": {"attempts": 2}, "dead": {}})
    yield b
    await b.close()

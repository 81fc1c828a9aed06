from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from qgen.runtime.backends.sqs import SqsBackend
from tests.support.sqs import MotoSqs, delete_queues, moto_server, new_prefix, url_for

__all__ = ["moto_server"]

QUEUES: dict[str, dict[str, Any]] = {
    "q": {"attempts": 2, "visibility_timeout": 5, "drain_delay": 1, "dead_letter": "dead"},
    "dead": {},
    "plain": {"attempts": 3, "drain_delay": 1},
    "jobs.fifo": {"attempts": 2, "drain_delay": 1},
}


@pytest.fixture
def prefix(moto_server: MotoSqs) -> Iterator[str]:
    p = new_prefix()
    yield p
    delete_queues(moto_server, p)


@pytest.fixture
def url(moto_server: MotoSqs, prefix: str) -> str:
    return url_for(moto_server, prefix, create="1")


@pytest.fixture
async def backend(url: str) -> AsyncIterator[SqsBackend]:
    b = await SqsBackend.connect(url, QUEUES)
    yield b
    await b.close()

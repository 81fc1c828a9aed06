"""Fixtures of the Redis tests: a unique BullMQ prefix per test on the real redis-server."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from qgen.runtime.backends.redis import RedisBackend

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from support.redis import backend_url  # noqa: E402


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


@pytest.fixture
def prefix(redis_url: str) -> str:
    return redis_url.split("prefix=", 1)[1]


@pytest.fixture
async def backend(redis_url: str) -> AsyncIterator[RedisBackend]:
    b = await RedisBackend.connect(
        redis_url,
        {
            "q": {"attempts": 2, "backoff": {"type": "fixed", "delay": 300}},
            "dead": {},
        },
    )
    try:
        yield b
    finally:
        await b.close()


def subprocess_env() -> dict[str, str]:
    root = HERE.parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(HERE), env.get("PYTHONPATH", "")])
    return env

"""URL provider for the Redis backend: a unique BullMQ key prefix per test on the real
redis-server at 127.0.0.1:6379, and every key under it deleted afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis

REDIS_URL = os.environ.get("QGEN_TEST_REDIS", "redis://127.0.0.1:6379/0")


def delete_prefix(prefix: str, url: str = REDIS_URL) -> int:
    client = redis.Redis.from_url(url)
    try:
        n = 0
        keys: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            keys.append(key)
            if len(keys) >= 1000:
                n += int(client.unlink(*keys))
                keys = []
        if keys:
            n += int(client.unlink(*keys))
        return n
    finally:
        client.close()


def drop_connections(url: str) -> int:
    """CLIENT KILL every connection qgen opened for ``url``'s prefix (its pool and blocking
    readers, named ``qgen:<prefix>[:role]``); the number dropped."""
    name = "qgen:" + url.split("prefix=", 1)[1].split("&", 1)[0]
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        killed = 0
        for conn in client.client_list():
            if conn.get("name") == name or conn.get("name", "").startswith(name + ":"):
                killed += int(client.execute_command("CLIENT", "KILL", "ID", conn["id"]))
        return killed
    finally:
        client.close()


@contextlib.contextmanager
def backend_url(tmp_path: Path) -> Iterator[str]:
    """``redis://127.0.0.1:6379/0?prefix=qgen-test-<random>``."""
    prefix = f"qgen-test-{uuid.uuid4().hex[:12]}"
    try:
        yield f"{REDIS_URL}?prefix={prefix}"
    finally:
        delete_prefix(prefix)

"""The Redis target of ``bench/throughput.py`` (not a peer): a fresh BullMQ key prefix per
measurement, removed afterwards, and the count of a queue's completed jobs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

_CLIENTS: dict[str, redis.Redis] = {}


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    prefix = query.pop("prefix", "bull")
    return urlunsplit(parts._replace(query=urlencode(query))), prefix


def _client(base: str) -> redis.Redis:
    client = _CLIENTS.get(base)
    if client is None:
        client = _CLIENTS[base] = redis.Redis.from_url(base)
    return client


@contextlib.contextmanager
def fresh(url: str, tmp: Path, option: str | None) -> Iterator[str]:
    base, _ = _split(url)
    prefix = f"bench-{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}prefix={prefix}"
    finally:
        client = _client(base)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])


def completed(url: str, queue: str) -> int | None:
    """Jobs of ``queue`` that left the queue: those added (BullMQ's id counter) less those still
    waiting, running or delayed. Not the completed set's size: retention (``remove_on_complete``,
    1,000 by default) keeps it short."""
    base, prefix = _split(url)
    key = f"{prefix}:{queue}:"
    pipe = _client(base).pipeline(transaction=False)
    pipe.get(key + "id")
    for name in ("wait", "active", "paused"):
        pipe.llen(key + name)
    for name in ("prioritized", "delayed"):
        pipe.zcard(key + name)
    added, *left = pipe.execute()
    return int(added or 0) - sum(int(n) for n in left)

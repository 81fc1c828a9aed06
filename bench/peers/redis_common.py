"""Helpers shared by the Redis peers: a private key namespace per run, and its clean-up."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis


def split_url(url: str) -> tuple[str, str]:
    """(URL without qgen's ``prefix`` parameter, a fresh prefix for this run)."""
    parts = urlsplit(url)
    rest = [(k, v) for k, v in parse_qsl(parts.query) if k != "prefix"]
    return urlunsplit(parts._replace(query=urlencode(rest))), f"bench-{uuid.uuid4().hex[:10]}"


def cleanup(url: str, pattern: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
    finally:
        client.close()

"""``redis://`` / ``rediss://`` URLs: the URL for redis-py and BullMQ's key prefix.

``redis://[user:pass@]host:6379/0[?prefix=bull]``: ``prefix`` is BullMQ's key prefix (default
``bull``, as Node BullMQ); every other query parameter goes to redis-py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from qgen.runtime.errors import ConfigError

DEFAULT_PREFIX = "bull"
# A prefix becomes the head of every key; braces allowed for Redis Cluster hash tags.
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed ``redis://`` / ``rediss://`` URL: the URL for redis-py (qgen's own query
    parameters removed) and the BullMQ key prefix (``?prefix=``, default ``bull``)."""

    client_url: str
    prefix: str


def parse_url(url: str) -> RedisTarget:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(f"not a Redis URL: {url!r} (use redis://host:6379/0 or rediss://...)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest: list[tuple[str, str]] = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    if not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            f"invalid BullMQ key prefix {prefix!r}: 1 to 100 letters, digits or _ . : {{ }} -"
        )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    return RedisTarget(client_url, prefix)

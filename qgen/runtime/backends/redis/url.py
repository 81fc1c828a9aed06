"""``redis://`` / ``rediss://`` URLs: the URL for redis-py and BullMQ's key prefix.

``redis://[user:pass@]host:6379/0[?prefix=bull]``: ``prefix`` is BullMQ's key prefix (default
``bull``, as Node BullMQ); every other query parameter goes to redis-py.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlunsplit

from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS, SSLConnection
from redis.asyncio.connection import parse_url as redis_py_parse_url

from qgen.runtime.errors import ConfigError
from qgen.runtime.urls import mask_url, redact, split_url, strict_query

DEFAULT_PREFIX = "bull"
# A prefix becomes the head of every key; braces allowed for Redis Cluster hash tags.
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed ``redis://`` / ``rediss://`` URL: the URL for redis-py (qgen's own query
    parameters removed) and the BullMQ key prefix (``?prefix=``, default ``bull``)."""

    client_url: str
    prefix: str


# Query parameters redis-py takes from a URL without failing later with a raw TypeError: its
# parsed ones (TLS ones only for rediss://) and the string options of its connections.
_REDIS_PARAMS = frozenset(URL_QUERY_ARGUMENT_PARSERS) - {"timeout"} | {"username", "password"}
_PLAIN_PARAMS = frozenset(p for p in _REDIS_PARAMS if not p.startswith("ssl_")) | {"prefix"}
_TLS_PARAMS = _PLAIN_PARAMS | set(inspect.signature(SSLConnection.__init__).parameters) - {
    "self",
    "kwargs",
}


def parse_url(url: str) -> RedisTarget:
    parts = split_url(url, "Redis")
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(
            f"not a Redis URL: {mask_url(url)!r} (use redis://host:6379/0 or rediss://...)"
        )
    allowed = _TLS_PARAMS if parts.scheme == "rediss" else _PLAIN_PARAMS
    query = strict_query(url, allowed, "Redis")
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    rest = list(query.items())
    if not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            f"invalid BullMQ key prefix {prefix!r}: 1 to 100 letters, digits or _ . : {{ }} -"
        )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    try:
        redis_py_parse_url(client_url)  # its own value checks (db, timeouts), now, not later
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {redact(str(exc), url)}") from None
    return RedisTarget(client_url, prefix)

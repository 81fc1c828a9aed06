"""Redis URLs: the URL for redis-py, BullMQ's key prefix, and qgen's own connection settings.

- ``redis://[user:pass@]host:6379/0[?prefix=bull]`` (``rediss://`` for TLS): one server.
- ``redis+cluster://[user:pass@]host:port,host:port/?prefix={bull}`` (``rediss+cluster://``):
  a Redis Cluster, given by one or more of its nodes. The prefix must carry a hash tag
  (``{...}``), as BullMQ requires on a cluster: every key of every queue under it then lives in
  one slot, so BullMQ's multi-key scripts run there; the other prefixes are refused.

qgen's parameters: ``prefix`` (default ``bull``, as Node BullMQ), ``max_connections`` (the
connections a process shares for its non-blocking calls, 2 to 64, default 8) and
``client_name`` (what ``CLIENT LIST`` shows, default ``qgen:<prefix>``; the blocking readers
add ``:wait`` and ``:events``). Every other query parameter goes to redis-py.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlencode, urlunsplit

from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS, SSLConnection
from redis.asyncio.connection import parse_url as redis_py_parse_url

from qgen.runtime.errors import ConfigError
from qgen.runtime.urls import mask_url, redact, split_url, strict_query

DEFAULT_PREFIX = "bull"
DEFAULT_MAX_CONNECTIONS = 8
MAX_CONNECTIONS_RANGE = (2, 64)
# A prefix becomes the head of every key; braces allowed for Redis Cluster hash tags.
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")
_NAME_RE = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")  # CLIENT SETNAME refuses spaces
_SCHEMES = {"redis": False, "rediss": False, "redis+cluster": True, "rediss+cluster": True}


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed Redis URL. ``client_url`` is redis-py's URL (qgen's parameters removed; on a
    cluster, the URL of its first node, the template of every node's URL)."""

    client_url: str
    prefix: str
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    client_name: str = ""
    nodes: tuple[tuple[str, int], ...] = ()  # a cluster's nodes as given; () for one server

    @property
    def cluster(self) -> bool:
        return bool(self.nodes)

    @property
    def name(self) -> str:
        return self.client_name or f"qgen:{self.prefix}"

    def node_url(self, host: str, port: int) -> str:
        """``client_url`` pointed at one node of the cluster."""
        parts = split_url(self.client_url, "Redis")
        user = parts.netloc.rpartition("@")[0]
        netloc = f"{user}@" if user else ""
        netloc += f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return urlunsplit(parts._replace(netloc=netloc))


# Query parameters redis-py takes from a URL without failing later with a raw TypeError: its
# parsed ones (TLS ones only for rediss://) and the string options of its connections.
_REDIS_PARAMS = frozenset(URL_QUERY_ARGUMENT_PARSERS) - {"timeout"} | {"username", "password"}
_QGEN_PARAMS = {"prefix", "max_connections", "client_name"}
_PLAIN_PARAMS = frozenset(p for p in _REDIS_PARAMS if not p.startswith("ssl_")) | _QGEN_PARAMS
_TLS_PARAMS = _PLAIN_PARAMS | set(inspect.signature(SSLConnection.__init__).parameters) - {
    "self",
    "kwargs",
}


def parse_url(url: str) -> RedisTarget:
    scheme = url.split(":", 1)[0].lower()
    if scheme not in _SCHEMES:
        raise ConfigError(
            f"not a Redis URL: {mask_url(url)!r} (use redis://host:6379/0, rediss://..., "
            "or redis+cluster://host:port,host:port/?prefix={bull})"
        )
    cluster = _SCHEMES[scheme]
    plain = scheme.removesuffix("+cluster")
    nodes: tuple[tuple[str, int], ...] = ()
    if cluster:
        url, nodes = _cluster_url(url, plain)
    parts = split_url(url, "Redis")
    query = strict_query(url, _TLS_PARAMS if plain == "rediss" else _PLAIN_PARAMS, "Redis")
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    if not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            f"invalid BullMQ key prefix {prefix!r}: 1 to 100 letters, digits or _ . : {{ }} -"
        )
    if cluster and not hash_tag(prefix):
        raise ConfigError(
            f"the BullMQ key prefix {prefix!r} has no hash tag: on a Redis Cluster every key of "
            "a queue must share one slot, so use a prefix such as '{bull}' or 'app{jobs}' "
            "(?prefix={bull}, written %7Bbull%7D where braces must be encoded)"
        )
    size = _max_connections(query.pop("max_connections", str(DEFAULT_MAX_CONNECTIONS)))
    name = query.pop("client_name", "")
    if name and not _NAME_RE.fullmatch(name):
        raise ConfigError(f"invalid client_name {name!r}: 1 to 100 letters, digits or _ . : - ")
    client_url = urlunsplit(parts._replace(query=urlencode(list(query.items()))))
    try:
        options = redis_py_parse_url(client_url)  # its own value checks (db, timeouts), now
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {redact(str(exc), url)}") from None
    if cluster and int(options.get("db", 0) or 0) != 0:
        raise ConfigError(f"a Redis Cluster has only database 0: {mask_url(url)!r}")
    return RedisTarget(client_url, prefix, size, name, nodes)


def hash_tag(key: str) -> str:
    """The part of ``key`` Redis Cluster hashes when it has one: between the first ``{`` and
    the next ``}``, if not empty ('' when the key has no hash tag)."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1 : end] if end > start + 1 else ""


def _max_connections(raw: str) -> int:
    low, high = MAX_CONNECTIONS_RANGE
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ConfigError(f"max_connections must be a whole number from {low} to {high}: {raw!r}")
    return int(raw)


def _cluster_url(url: str, plain: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """The URL of the first node (``plain`` scheme) and every node given."""
    rest = url.split("://", 1)[1]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    user, _, hosts = authority.rpartition("@")
    nodes: list[tuple[str, int]] = []
    for host in hosts.split(","):
        parts: SplitResult = split_url(f"{plain}://{host}", "Redis")
        if not host or not parts.hostname:
            raise ConfigError(f"a Redis Cluster URL lists host:port pairs: {mask_url(url)!r}")
        nodes.append((parts.hostname, parts.port or 6379))
    first = f"{user}@{hosts.split(',')[0]}" if user else hosts.split(",")[0]
    return f"{plain}://{first}{tail}", tuple(nodes)

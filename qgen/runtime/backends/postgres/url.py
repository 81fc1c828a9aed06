"""``postgresql://`` URLs: the libpq connection string and qgen's schema.

``postgresql://user@host:5432/db?schema=qgen``: ``schema`` (default ``qgen``) names the schema
of qgen's tables; ``worker_connections`` (default 4, from 3 to 64) bounds the connections of one
worker process, whatever its number of queues; every other part goes to libpq unchanged. The
schema is validated here and only ever reaches SQL as ``sql.Identifier``.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

import psycopg

from qgen.runtime.errors import ConfigError
from qgen.runtime.names import is_identifier
from qgen.runtime.urls import mask_url, split_url, strict_query

DEFAULT_SCHEMA = "qgen"
# A worker's connections: one LISTEN, one shared with its clients for side work (heartbeats,
# progress, recovery), the rest for the consuming rounds.
DEFAULT_WORKER_CONNECTIONS = 4
MIN_WORKER_CONNECTIONS, MAX_WORKER_CONNECTIONS = 3, 64
# Query parameters libpq understands (sslmode, connect_timeout, ...), from the installed libpq.
LIBPQ_PARAMS = frozenset(o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults())


@dataclass(frozen=True, slots=True)
class PgUrl:
    conninfo: str  # the URL without qgen's own parameters, for libpq
    schema: str
    worker_connections: int = DEFAULT_WORKER_CONNECTIONS


def parse_url(url: str) -> PgUrl:
    """``postgresql://user@host:5432/db?schema=qgen`` -> libpq URL and validated schema."""
    parts = split_url(url, "PostgreSQL")
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"not a PostgreSQL URL: {mask_url(url)!r}")
    query = strict_query(url, LIBPQ_PARAMS | {"schema", "worker_connections"}, "PostgreSQL")
    schema = query.pop("schema", DEFAULT_SCHEMA)
    connections = _worker_connections(query.pop("worker_connections", None))
    rest = list(query.items())
    bad = not is_identifier(schema) or len(schema) > 40 or schema.lower() != schema
    if bad or schema.startswith("pg_"):
        raise ConfigError(
            f"invalid schema {schema!r} in the PostgreSQL URL: use lower-case letters, digits "
            "and '_' (at most 40 characters, not starting with a digit or 'pg_')"
        )
    conninfo = urllib.parse.urlunsplit(
        ("postgresql", parts.netloc, parts.path, urllib.parse.urlencode(rest), "")
    )
    return PgUrl(conninfo, schema, connections)


def _worker_connections(text: str | None) -> int:
    if text is None:
        return DEFAULT_WORKER_CONNECTIONS
    low, high = MIN_WORKER_CONNECTIONS, MAX_WORKER_CONNECTIONS
    if not re.fullmatch(r"[0-9]{1,3}", text) or not low <= int(text) <= high:
        raise ConfigError(
            f"invalid worker_connections {text!r} in the PostgreSQL URL: a whole number from "
            f"{low} to {high} (one LISTEN, one for side work, the rest for consuming rounds)"
        )
    return int(text)

"""``postgresql://`` URLs: the libpq connection string and qgen's schema.

``postgresql://user@host:5432/db?schema=qgen``: ``schema`` (default ``qgen``) names the schema
of qgen's tables; every other part goes to libpq unchanged. The schema is validated here and only
ever reaches SQL as ``sql.Identifier``.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import psycopg

from qgen.runtime.errors import ConfigError
from qgen.runtime.names import is_identifier
from qgen.runtime.urls import mask_url, split_url, strict_query

DEFAULT_SCHEMA = "qgen"
# Query parameters libpq understands (sslmode, connect_timeout, ...), from the installed libpq.
LIBPQ_PARAMS = frozenset(o.keyword.decode() for o in psycopg.pq.Conninfo.get_defaults())


@dataclass(frozen=True, slots=True)
class PgUrl:
    conninfo: str  # the URL without qgen's own parameters, for libpq
    schema: str


def parse_url(url: str) -> PgUrl:
    """``postgresql://user@host:5432/db?schema=qgen`` -> libpq URL and validated schema."""
    parts = split_url(url, "PostgreSQL")
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"not a PostgreSQL URL: {mask_url(url)!r}")
    query = strict_query(url, LIBPQ_PARAMS | {"schema"}, "PostgreSQL")
    schema = query.pop("schema", DEFAULT_SCHEMA)
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
    return PgUrl(conninfo, schema)

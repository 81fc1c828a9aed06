"""Connections of the PostgreSQL backend: URL parsing, reconnecting, migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg.conninfo
from psycopg import sql

from qgen.runtime.backends.postgres_sql import LATEST, MIGRATIONS, lock_key
from qgen.runtime.errors import ConfigError
from qgen.runtime.names import is_identifier
from qgen.runtime.urls import mask_url, split_url, strict_query

log = logging.getLogger("qgen.postgres")

DEFAULT_SCHEMA = "qgen"
# Errors after which a connection is replaced (server restart, network): anything else is a bug.
CONNECTION_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError)

T = TypeVar("T")
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


async def connect(
    conninfo: str, *, prepare: bool = True, application_name: str | None = None
) -> psycopg.AsyncConnection[Any]:
    if application_name:
        conninfo = psycopg.conninfo.make_conninfo(conninfo, application_name=application_name)
    conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True
    )
    if prepare:
        conn.prepare_threshold = 0  # the same few statements run thousands of times
    return conn


class Backoff:
    """Delays between reconnection attempts: 0.1 s doubling to 5 s, with jitter."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first, self.cap, self.tries = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * 2.0**self.tries)
        self.tries += 1
        return delay * (0.5 + random.random() / 2)

    def reset(self) -> None:
        self.tries = 0


async def retrying(
    what: str, op: Callable[[], Awaitable[T]], stop: asyncio.Event | None = None
) -> T:
    """Run ``op`` until it does not fail with a connection error (waiting with backoff)."""
    backoff = Backoff()
    while True:
        try:
            return await op()
        except CONNECTION_ERRORS as exc:
            if stop is not None and stop.is_set():
                raise
            delay = backoff.next()
            log.warning("%s: connection lost (%s); retrying in %.2f s", what, exc, delay)
            await asyncio.sleep(delay)


async def current_version(conn: psycopg.AsyncConnection[Any], schema: str) -> int:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".migrations',))
    row = await cur.fetchone()
    if not row or not row[0]:
        return 0
    cur = await conn.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}.migrations").format(
            sql.Identifier(schema)
        )
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate_conn(conn: psycopg.AsyncConnection[Any], schema: str) -> list[int]:
    """Apply the missing migrations under an advisory lock; return the versions applied.

    Several processes may start at once: the lock serializes them and the later ones find the
    schema current. Each version commits in its own transaction with its bookkeeping row.
    """
    if await current_version(conn, schema) >= LATEST:
        return []
    s = sql.Identifier(schema)
    key = lock_key(schema)
    await conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    try:
        async with conn.transaction():
            await conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(s))
            await conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {}.migrations (version integer PRIMARY KEY, "
                    "applied_on timestamptz NOT NULL DEFAULT now())"
                ).format(s)
            )
        done = await current_version(conn, schema)
        applied: list[int] = []
        for version in sorted(v for v in MIGRATIONS if v > done):
            async with conn.transaction():
                for stmt in MIGRATIONS[version]:
                    await conn.execute(sql.SQL(stmt).format(s=s))
                await conn.execute(
                    sql.SQL("INSERT INTO {}.migrations (version) VALUES (%s)").format(s),
                    (version,),
                )
            applied.append(version)
            log.info("schema %s: applied migration %d", schema, version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


class SideConnection:
    """A shared connection for heartbeats, progress and recovery; reconnects on demand."""

    def __init__(self, conninfo: str, app: str = "qgen-worker") -> None:
        self.conninfo, self.app = conninfo, app
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.lock = asyncio.Lock()

    async def execute(self, stmt: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        backoff = Backoff()
        while True:
            try:
                async with self.lock:
                    if self.conn is None or self.conn.closed:
                        self.conn = await connect(self.conninfo, application_name=self.app)
                    cur = await self.conn.execute(stmt, params)
                    return await cur.fetchall() if cur.description else []
            except CONNECTION_ERRORS as exc:
                await self.close()
                delay = backoff.next()
                log.warning("side connection lost (%s); retrying in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    async def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

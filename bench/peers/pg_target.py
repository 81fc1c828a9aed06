"""The PostgreSQL target of ``bench/throughput.py`` (not a peer): a fresh qgen schema per
measurement, dropped afterwards, and a cheap probe for "every job of the queue completed"."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
_CONNS: dict[str, psycopg.Connection] = {}


def split(url: str) -> tuple[str, str]:
    """(libpq URL without ``schema``, schema)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    schema = query.pop("schema", "qgen")
    return urlunsplit(parts._replace(query=urlencode(query))), schema


def _conn(base: str) -> psycopg.Connection:
    conn = _CONNS.get(base)
    if conn is None or conn.closed or conn.broken:
        conn = _CONNS[base] = psycopg.connect(base, autocommit=True)
    return conn


def _execute(base: str, query: Any, params: tuple[Any, ...] = ()) -> Any:
    """Execute on the cached connection; once more on a new one if the server dropped it."""
    try:
        return _conn(base).execute(query, params)
    except psycopg.OperationalError:
        _CONNS.pop(base, None)
        return _conn(base).execute(query, params)


@contextlib.contextmanager
def fresh(url: str, tmp: Path, option: str | None) -> Iterator[str]:
    base, _ = split(url)
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}schema={schema}"
    finally:
        drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        _execute(base, drop)


def all_done(url: str, queue: str, jobs: int) -> bool:
    """Nothing ready or running (two partial-index probes). The completed rows are not counted:
    retention (by default at most 1,000 completed per queue) deletes most of them."""
    base, schema = split(url)
    s = sql.Identifier(schema)
    try:
        busy = (
            _conn(base)
            .execute(
                sql.SQL(
                    "SELECT EXISTS (SELECT 1 FROM {s}.job WHERE queue = %s AND state < 'active') "
                    "OR EXISTS (SELECT 1 FROM {s}.job WHERE queue = %s AND state = 'active')"
                ).format(s=s),
                (queue, queue),
            )
            .fetchone()
        )
        return busy is not None and not busy[0]
    except psycopg.errors.UndefinedTable:
        return False
    except psycopg.OperationalError:  # the server restarted: ask again next time
        _CONNS.pop(base, None)
        return False

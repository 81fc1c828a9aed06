"""URL provider for the PostgreSQL backend: a fresh schema per test on the local server."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

SERVER = os.environ.get("QGEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def new_schema() -> str:
    return f"qgen_test_{uuid.uuid4().hex[:12]}"


def schema_url(schema: str, server: str = SERVER) -> str:
    """``server`` with ``?schema=`` added (``&`` when it has a query already, such as
    ``?sslmode=require`` in QGEN_TEST_PG)."""
    return f"{server}{'&' if '?' in server else '?'}schema={schema}"


def drop_schema(schema: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def drop_connections(url: str) -> int:
    """Terminate every qgen connection to the test database (its application names start with
    ``qgen``; the tests run one at a time); the number dropped."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'qgen%'"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


@contextlib.contextmanager
def backend_url(tmp_path: Path) -> Iterator[str]:
    """``postgresql://.../test?schema=qgen_test_<random>``; the schema is dropped afterwards."""
    schema = new_schema()
    try:
        yield schema_url(schema)
    finally:
        drop_schema(schema)

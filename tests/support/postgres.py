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


def drop_schema(schema: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@contextlib.contextmanager
def backend_url(tmp_path: Path) -> Iterator[str]:
    """``postgresql://.../test?schema=qgen_test_<random>``; the schema is dropped afterwards."""
    schema = new_schema()
    try:
        yield f"{SERVER}?schema={schema}"
    finally:
        drop_schema(schema)

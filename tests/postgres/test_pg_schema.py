"""URLs, schema names and migrations of the PostgreSQL backend."""

from __future__ import annotations

import asyncio
import sys

import pytest

from qgen.runtime.backends.postgres.migrations import LATEST, migrate
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.errors import ConfigError
from tests.postgres.pg_helpers import rows


def test_url_default_schema_and_libpq_params() -> None:
    pg = parse_url("postgresql://u@h:5432/db?sslmode=disable")
    assert pg.schema == "qgen"
    assert pg.conninfo == "postgresql://u@h:5432/db?sslmode=disable"
    pg = parse_url("postgres://u@h/db?schema=app_jobs&connect_timeout=3")
    assert (pg.schema, pg.conninfo) == ("app_jobs", "postgresql://u@h/db?connect_timeout=3")


@pytest.mark.parametrize(
    "schema", ['x";drop schema public;--', "Upper", "1abc", "a b", "", "x" * 41, "pg_x"]
)
def test_bad_schema_names_never_reach_sql(schema: str) -> None:
    with pytest.raises(ConfigError, match="invalid schema"):
        parse_url(f"postgresql://u@h/db?schema={schema}")


async def test_migrate_is_idempotent(pg_url: str) -> None:
    assert await migrate(pg_url) == list(range(1, LATEST + 1))
    assert await migrate(pg_url) == []
    versions = rows(pg_url, "SELECT version FROM {s}.migrations")
    assert versions == [(v,) for v in range(1, LATEST + 1)]


async def test_concurrent_migrations_apply_once(pg_url: str) -> None:
    # each call has its own connection: the advisory lock serializes them
    results = await asyncio.gather(*(migrate(pg_url) for _ in range(6)))
    assert sorted(results) == [[]] * 5 + [list(range(1, LATEST + 1))]
    states = rows(pg_url, "SELECT unnest(enum_range(NULL::{s}.job_state))::text")
    assert [s for (s,) in states] == [
        "created", "retry", "active", "completed", "cancelled", "discarded", "failed"
    ]  # fmt: skip


async def test_concurrent_migrations_from_processes(pg_url: str) -> None:
    code = (
        "import asyncio,sys;from qgen.runtime.backends.postgres.migrations import migrate;"
        "print(asyncio.run(migrate(sys.argv[1])))"
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, pg_url, stdout=asyncio.subprocess.PIPE
        )
        for _ in range(4)
    ]
    outs = [(await p.communicate())[0].decode().strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outs) == [str(list(range(1, LATEST + 1))), "[]", "[]", "[]"]

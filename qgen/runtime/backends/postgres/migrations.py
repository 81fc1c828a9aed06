"""The PostgreSQL schema's versions, and applying the missing ones under an advisory lock.

Run by ``qgen setup`` / ``qgen migrate`` (``PostgresBackend.provision``), by workers at start-up
and lazily by a client's first use; concurrent starts are safe and re-runs do nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from qgen.runtime.backends.postgres.sql import lock_key
from qgen.runtime.backends.postgres.transport import connect
from qgen.runtime.backends.postgres.url import parse_url

log = logging.getLogger("qgen.postgres")

# Each migration is a list of statements; ``{s}`` is the schema identifier. Never edit a
# released migration: add the next version.
MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE TYPE {s}.job_state AS ENUM "
        "('created', 'retry', 'active', 'completed', 'cancelled', 'failed')",
        """CREATE TABLE {s}.job (
            queue text NOT NULL,
            id text NOT NULL,
            seq bigint GENERATED ALWAYS AS IDENTITY,
            state {s}.job_state NOT NULL DEFAULT 'created',
            priority integer NOT NULL DEFAULT 0,
            data jsonb,
            retry_limit integer NOT NULL DEFAULT 2,
            retry_count integer NOT NULL DEFAULT 0,
            backoff jsonb,
            stalled_count integer NOT NULL DEFAULT 0,
            start_after timestamptz NOT NULL DEFAULT now(),
            lease_until timestamptz,
            worker text,
            dead_letter text,
            progress jsonb,
            output jsonb,
            error jsonb,
            created_on timestamptz NOT NULL DEFAULT now(),
            started_on timestamptz,
            completed_on timestamptz,
            PRIMARY KEY (queue, id)
        )""",
        # ready jobs, in fetch order (the only index that gives this order)
        "CREATE INDEX job_fetch ON {s}.job (queue, priority DESC, seq) WHERE state < 'active'",
        # when does the next delayed job become ready (idle workers sleep until then); plain
        # adds (start_after = created_on) stay out of it, so they cost no entry here
        "CREATE INDEX job_due ON {s}.job (queue, start_after) "
        "WHERE state < 'active' AND (state = 'retry' OR start_after > created_on)",
        # leases to recover from dead workers
        "CREATE INDEX job_lease ON {s}.job (queue, lease_until) WHERE state = 'active'",
        # (the retention index, job_finished, is made by the first worker that needs it)
    ],
    # The operator API (issue 14). pg-boss's 'cancelled' becomes what an operator's cancel
    # does; a job's own discard gets a state of its own (its rows move in version 3: a new
    # enum value can be used only once its transaction committed).
    2: ["ALTER TYPE {s}.job_state ADD VALUE IF NOT EXISTS 'discarded' AFTER 'cancelled'"],
    3: [
        # a discard's attempt now counts in retry_count, as a failed one does
        "UPDATE {s}.job SET state = 'discarded', retry_count = retry_count + 1 "
        "WHERE state = 'cancelled'",
        "ALTER TABLE {s}.job ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false, "
        "ADD COLUMN dead_letter_of text",
        # paused queues (a row per queue ever paused)
        "CREATE TABLE {s}.queue (name text PRIMARY KEY, paused boolean NOT NULL DEFAULT false)",
        # worker processes' heartbeats (ops.WorkerInfo)
        "CREATE TABLE {s}.worker_beat (key text PRIMARY KEY, name text NOT NULL, "
        "host text NOT NULL, pid integer NOT NULL, queues text[] NOT NULL, "
        "started_at float8 NOT NULL, last_seen timestamptz NOT NULL DEFAULT now())",
        # finished jobs by state, newest first: counts, listing, clean and retention (by count
        # and by age, now on by default) in one index
        "DROP INDEX IF EXISTS {s}.job_finished",
        "CREATE INDEX job_finished ON {s}.job (queue, state, completed_on, id) "
        "WHERE state > 'active'",
        # waiting jobs newest first (listing); delayed ones list through job_due
        "CREATE INDEX job_waiting ON {s}.job (queue, created_on, id) WHERE state < 'active'",
        # dead-letter copies by the queue they failed on (redrive)
        "CREATE INDEX job_dead_letter_of ON {s}.job (queue, dead_letter_of, created_on, seq) "
        "WHERE dead_letter_of IS NOT NULL",
    ],
    # the job's metadata beside its data: the W3C trace context of the add (issue 17)
    4: ["ALTER TABLE {s}.job ADD COLUMN IF NOT EXISTS meta jsonb"],
}
LATEST = max(MIGRATIONS)


async def migrate(url: str) -> list[int]:
    """Create or upgrade the schema named by ``url``; return the versions applied (may be [])."""
    pg = parse_url(url)
    conn = await connect(pg.conninfo, prepare=False)
    try:
        return await migrate_conn(conn, pg.schema)
    finally:
        await conn.close()


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

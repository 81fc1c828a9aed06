"""The SQLite queue file's schema versions, applied in place when a file is opened.

``PRAGMA user_version`` holds the file's version. :func:`apply_schema` runs inside one
``BEGIN IMMEDIATE`` transaction (``transport.with_write``) and reads the version again there,
so processes opening the same file at once apply each step exactly once; a file from an older
qgen is upgraded where it lies, its jobs kept. Never edit a released step: add the next one.
"""

from __future__ import annotations

import sqlite3
import time

SCHEMA_VERSION = 5

# Version 2's tables and indexes (``IF NOT EXISTS``: a fresh file starts here, then steps up).
BASE = """
CREATE TABLE IF NOT EXISTS qgen_jobs (
    seq INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL,
    attempts_made INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    backoff TEXT,
    start_after REAL NOT NULL,
    lease TEXT,
    lease_until REAL,
    stalled INTEGER NOT NULL DEFAULT 0,
    progress TEXT,
    result TEXT,
    error TEXT,
    worker TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS qgen_jobs_queue_id ON qgen_jobs (queue, id);
CREATE INDEX IF NOT EXISTS qgen_jobs_ready
    ON qgen_jobs (queue, priority DESC, seq) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS qgen_jobs_delayed
    ON qgen_jobs (queue, start_after) WHERE state = 'delayed';
CREATE INDEX IF NOT EXISTS qgen_jobs_leases
    ON qgen_jobs (queue, lease_until) WHERE state = 'active'
"""
# Version 1 kept delayed jobs as 'waiting' with a future start_after.
MIGRATE_2 = "UPDATE qgen_jobs SET state = 'delayed' WHERE state = 'waiting' AND start_after > ?"
# Version 3: the operator API (issue 14) and retention by default.
MIGRATE_3 = (
    # an operator's cancel of a running job, read by the worker when it renews the lease
    "ALTER TABLE qgen_jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0",
    # a dead-letter copy names the queue its job failed on (redrive)
    "ALTER TABLE qgen_jobs ADD COLUMN dead_letter_of TEXT",
    # finished jobs by state, newest first: counts, listing, clean and retention (now on by
    # default, so every file has it; version 2 made a narrower one on demand)
    "DROP INDEX IF EXISTS qgen_jobs_finished",
    "CREATE INDEX qgen_jobs_finished ON qgen_jobs (queue, state, finished_at, id)"
    " WHERE finished_at IS NOT NULL",
    # waiting jobs newest first (listing); delayed ones by due time, ties by id
    "CREATE INDEX qgen_jobs_waiting ON qgen_jobs (queue, created_at, id) WHERE state = 'waiting'",
    "DROP INDEX IF EXISTS qgen_jobs_delayed",
    "CREATE INDEX qgen_jobs_delayed ON qgen_jobs (queue, start_after, id) WHERE state = 'delayed'",
    # dead-letter copies by the queue they failed on, oldest first (redrive)
    "CREATE INDEX qgen_jobs_dead_letter_of ON qgen_jobs (queue, dead_letter_of, created_at, seq)"
    " WHERE dead_letter_of IS NOT NULL",
    # paused queues (a row per queue ever paused)
    "CREATE TABLE qgen_queues (name TEXT PRIMARY KEY, paused INTEGER NOT NULL DEFAULT 0)"
    " WITHOUT ROWID",
    # worker processes' heartbeats (ops.WorkerInfo); queues as a JSON array
    "CREATE TABLE qgen_workers (key TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL,"
    " pid INTEGER NOT NULL, queues TEXT NOT NULL, started_at REAL NOT NULL,"
    " last_seen REAL NOT NULL)",
)


# Version 4: the job's metadata beside its data, the trace context of the add (issue 17).
MIGRATE_4 = ("ALTER TABLE qgen_jobs ADD COLUMN meta TEXT",)
# Version 5: running jobs an operator asked to cancel, by queue and lease, so each worker's one
# poll read learns its own at once (empty but for the few requests in flight).
MIGRATE_5 = (
    "CREATE INDEX qgen_jobs_cancel_asked ON qgen_jobs (queue, lease)"
    " WHERE state = 'active' AND cancel_requested = 1",
)


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_schema(conn: sqlite3.Connection) -> list[int]:
    """Inside a write transaction: create what is missing and upgrade an older file; returns
    the versions applied (none when another process got there first)."""
    done = version(conn)
    if done >= SCHEMA_VERSION:
        return []
    for stmt in BASE.split(";"):
        conn.execute(stmt)
    applied = []
    if done < 2:
        conn.execute(MIGRATE_2, (time.time(),))
        applied.append(2)
    if done < 3:
        for stmt in MIGRATE_3:
            conn.execute(stmt)
        applied.append(3)
    if done < 4:
        for stmt in MIGRATE_4:
            conn.execute(stmt)
        applied.append(4)
    for stmt in MIGRATE_5:
        conn.execute(stmt)
    applied.append(5)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return applied

"""The SQL of the SQLite queue file: its schema and one function per statement.

Every function runs on the caller's connection, inside the caller's transaction where it says
so (``transport.with_write``); queue names and job ids only ever reach SQL as parameters.

One row per job in ``qgen_jobs``. ``seq`` (the rowid) gives creation order and the cheapest way
to address a row. A job waiting for its ``start_after`` time (a delayed add, a retry with
backoff) is ``delayed``, in the partial index ``qgen_jobs_delayed``; each round of a worker first
promotes the due ones to ``waiting``. The ready-job fetch walks the partial index
``qgen_jobs_ready`` (only waiting rows, ordered ``priority DESC, seq``), so neither finished nor
delayed rows are ever scanned.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

SCHEMA_VERSION = 3

SCHEMA = """
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
    finished_at REAL,
    meta TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS qgen_jobs_queue_id ON qgen_jobs (queue, id);
CREATE INDEX IF NOT EXISTS qgen_jobs_ready
    ON qgen_jobs (queue, priority DESC, seq) WHERE state = 'waiting';
CREATE INDEX IF NOT EXISTS qgen_jobs_delayed
    ON qgen_jobs (queue, start_after) WHERE state = 'delayed';
CREATE INDEX IF NOT EXISTS qgen_jobs_leases
    ON qgen_jobs (queue, lease_until) WHERE state = 'active';
"""
# Version 3 added ``meta`` (the job's metadata beside its data: the trace context, issue 17).
ADDED_COLUMNS = (("meta", "TEXT"),)
# Version 1 kept delayed jobs as 'waiting' with a future start_after.
MIGRATE_1 = "UPDATE qgen_jobs SET state = 'delayed' WHERE state = 'waiting' AND start_after > ?"
# Created by the first consumer of a queue with remove_on_complete / remove_on_fail: it costs
# every finished job an index entry, which files without retention need not pay.
FINISHED_INDEX = (
    "CREATE INDEX IF NOT EXISTS qgen_jobs_finished"
    " ON qgen_jobs (queue, state, finished_at) WHERE finished_at IS NOT NULL"
)

INSERT = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, backoff,"
    " start_after, created_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (queue, id) DO NOTHING"
)
GET = (
    "SELECT id, queue, state, data, progress, result, error, attempts_made, max_attempts,"
    " created_at, finished_at, start_after FROM qgen_jobs WHERE queue = ? AND id = ?"
)
_LEASE = (
    "UPDATE qgen_jobs SET state = 'active', lease = ?, lease_until = ?, worker = ?,"
    " started_at = ? WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    " WHERE queue = ? AND state = 'waiting' ORDER BY priority DESC, seq LIMIT ?)"
    " RETURNING seq, id, priority, data, attempts_made, max_attempts, backoff, meta"
)
_READY = (
    "SELECT EXISTS (SELECT 1 FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    " WHERE queue = ?1 AND state = 'waiting') OR EXISTS (SELECT 1 FROM qgen_jobs"
    " INDEXED BY qgen_jobs_delayed WHERE queue = ?1 AND state = 'delayed' AND start_after <= ?2)"
)
_PROMOTE = (
    "UPDATE qgen_jobs SET state = 'waiting' WHERE seq IN (SELECT seq FROM qgen_jobs"
    " INDEXED BY qgen_jobs_delayed WHERE queue = ? AND state = 'delayed' AND start_after <= ?)"
)
_FINISH = (
    "UPDATE qgen_jobs SET state = ?, result = ?, error = ?, finished_at = ?,"
    " attempts_made = attempts_made + 1, lease = NULL, lease_until = NULL"
    " WHERE seq = ? AND lease = ?"
)
_DELETE_LEASED = "DELETE FROM qgen_jobs WHERE seq = ? AND lease = ?"
_RETRY = (
    "UPDATE qgen_jobs SET state = ?, error = ?, start_after = ?,"
    " attempts_made = attempts_made + 1, lease = NULL, lease_until = NULL"
    " WHERE seq = ? AND lease = ?"
)
_RELEASE = (
    "UPDATE qgen_jobs SET state = 'waiting', lease = NULL, lease_until = NULL"
    " WHERE seq = ? AND lease = ?"
)
_RENEW = "UPDATE qgen_jobs SET lease_until = ? WHERE seq = ? AND lease = ?"
_PROGRESS = "UPDATE qgen_jobs SET progress = ? WHERE seq = ? AND lease = ?"
_DEAD_COPY = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, start_after,"
    " created_at) SELECT ?, id, 'waiting', priority, data, ?, ?, ? FROM qgen_jobs"
    " WHERE seq = ? AND lease IS ?"
    " ON CONFLICT (queue, id) DO NOTHING"
)
_EXPIRED = (
    "SELECT seq, id, stalled, lease FROM qgen_jobs INDEXED BY qgen_jobs_leases"
    " WHERE queue = ? AND state = 'active' AND lease_until < ?"
)
_TRIM = (
    "DELETE FROM qgen_jobs WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_finished"
    " WHERE queue = ?1 AND state = ?2 AND finished_at IS NOT NULL"
    " ORDER BY finished_at DESC, seq DESC LIMIT -1 OFFSET ?3)"
)


_RECOVER = (
    "UPDATE qgen_jobs SET state = 'waiting', lease = NULL, lease_until = NULL,"
    " stalled = ? WHERE seq = ? AND state = 'active' AND lease_until < ?"
)
_RECOVER_FAILED = (
    "UPDATE qgen_jobs SET state = 'failed', lease = NULL, lease_until = NULL,"
    " stalled = ?, error = ?, finished_at = ? WHERE seq = ? AND state = 'active'"
    " AND lease_until < ?"
)

# A leased row: seq, id, priority, data, attempts_made, max_attempts, backoff, meta.
LeasedRow = tuple[int, str, int, str, int, int, str | None, str | None]


def apply_schema(conn: sqlite3.Connection) -> None:
    """Inside a write transaction: create what is missing and upgrade older files."""
    for stmt in SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    have = {row[1] for row in conn.execute("PRAGMA table_info(qgen_jobs)")}
    for name, kind in ADDED_COLUMNS:
        if name not in have:  # names and types are the constants above, never input
            conn.execute(f"ALTER TABLE qgen_jobs ADD COLUMN {name} {kind}")
    conn.execute(MIGRATE_1, (time.time(),))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def insert_one(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    conn.execute(INSERT, row)


def insert_many(conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Inside a write transaction."""
    conn.executemany(INSERT, rows)


def get_row(conn: sqlite3.Connection, queue: str, job_id: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(GET, (queue, job_id)).fetchone()
    return row


def oldest_waiting(conn: sqlite3.Connection, queue: str) -> float | None:
    """When the oldest waiting job of ``queue`` was added (epoch s); None when none waits."""
    row = conn.execute(
        "SELECT min(created_at) FROM qgen_jobs INDEXED BY qgen_jobs_ready"
        " WHERE queue = ? AND state = 'waiting'",
        (queue,),
    ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def has_ready(conn: sqlite3.Connection, queue: str, now: float) -> bool:
    """A cheap read: is anything waiting, or delayed and due?"""
    return bool(conn.execute(_READY, (queue, now)).fetchone()[0])


def promote(conn: sqlite3.Connection, queue: str, now: float) -> int:
    """Inside a write transaction: delayed jobs whose time has come become waiting."""
    return conn.execute(_PROMOTE, (queue, now)).rowcount


def lease(
    conn: sqlite3.Connection,
    queue: str,
    limit: int,
    token: str,
    worker: str,
    now: float,
    lease_until: float,
) -> list[LeasedRow]:
    """Inside a write transaction: mark up to ``limit`` ready jobs active for ``token``; the
    rows in fetch order (RETURNING has none)."""
    rows: list[LeasedRow] = conn.execute(
        _LEASE, (token, lease_until, worker, now, queue, limit)
    ).fetchall()
    rows.sort(key=lambda r: (-r[2], r[0]))
    return rows


def finish(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[str, str | None, str | None, float, int, str]],
) -> int:
    """(state, result JSON, error JSON, finished_at, seq, lease) per job; returns rows changed."""
    return conn.executemany(_FINISH, rows).rowcount


def delete_leased(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> int:
    return conn.executemany(_DELETE_LEASED, rows).rowcount


def retry(conn: sqlite3.Connection, rows: Sequence[tuple[str, str, float, int, str]]) -> int:
    """(state, error JSON, start_after, seq, lease) per job."""
    return conn.executemany(_RETRY, rows).rowcount


def release(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> int:
    return conn.executemany(_RELEASE, rows).rowcount


def renew(conn: sqlite3.Connection, lease_until: float, rows: Sequence[tuple[int, str]]) -> int:
    return conn.executemany(_RENEW, [(lease_until, s, t) for s, t in rows]).rowcount


def set_progress(conn: sqlite3.Connection, progress: str, seq: int, token: str) -> None:
    conn.execute(_PROGRESS, (progress, seq, token))


def dead_letter_copy(
    conn: sqlite3.Connection,
    target: str,
    seq: int,
    lease: str | None,
    max_attempts: int,
    now: float,
) -> None:
    """Insert a fresh waiting copy of job ``seq`` (same id and data) into queue ``target``, if
    the job is still held under ``lease``. An id already in ``target`` is left as it is."""
    conn.execute(_DEAD_COPY, (target, max_attempts, now, now, seq, lease))


def expired(
    conn: sqlite3.Connection, queue: str, now: float
) -> list[tuple[int, str, int, str | None]]:
    rows: list[tuple[int, str, int, str | None]] = conn.execute(_EXPIRED, (queue, now)).fetchall()
    return rows


def recover(
    conn: sqlite3.Connection, seq: int, stalled: int, fail_error: str | None, now: float
) -> bool:
    """Give an expired lease back (stall counted), or fail the job when ``fail_error`` is set.
    Guarded by state and lease_until, so a lease renewed meanwhile is left alone."""
    if fail_error is None:
        cur = conn.execute(_RECOVER, (stalled, seq, now))
    else:
        cur = conn.execute(_RECOVER_FAILED, (stalled, fail_error, now, seq, now))
    return cur.rowcount == 1


def trim(conn: sqlite3.Connection, queue: str, state: str, keep: int) -> int:
    """Delete finished rows of ``state`` beyond the ``keep`` most recently finished."""
    return conn.execute(_TRIM, (queue, state, keep)).rowcount

"""The SQL of the SQLite queue file's consumer: one function per statement (the schema is in
:mod:`.migrations`, the operator API's statements in :mod:`.ops_sql`).

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
from collections.abc import Sequence
from typing import Any

from qgen.runtime.backends.sqlite import migrations

SCHEMA_VERSION = migrations.SCHEMA_VERSION
apply_schema = migrations.apply_schema

INSERT = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, backoff,"
    " start_after, created_at, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (queue, id) DO NOTHING"
)
# A job as the client sees it (jobs.job_info reads the columns in this order).
INFO = (
    "id, queue, state, data, progress, result, error, attempts_made, max_attempts,"
    " created_at, finished_at, start_after, started_at, worker, priority, dead_letter_of"
)
GET = "SELECT " + INFO + " FROM qgen_jobs WHERE queue = ? AND id = ?"
# Nothing is leased from a paused queue (the poll reads the flag too; this guard closes the
# gap between a poll and the round).
_LEASE = (
    "UPDATE qgen_jobs SET state = 'active', lease = ?1, lease_until = ?2, worker = ?3,"
    " started_at = ?4 WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    " WHERE queue = ?5 AND state = 'waiting' ORDER BY priority DESC, seq LIMIT ?6)"
    " AND NOT EXISTS (SELECT 1 FROM qgen_queues WHERE name = ?5 AND paused)"
    " RETURNING seq, id, priority, data, attempts_made, max_attempts, backoff, meta"
)
# One read for every queue of a worker: is anything ready (waiting, or delayed and due), is
# the queue paused, and which of the jobs this worker leased (leases ``<base>-<round>``, so
# between ?3 and ?4) an operator asked to cancel (a JSON array, NULL for none: the partial
# index is empty but for requests not yet heard)? Params: the queue names as a JSON array,
# now, the worker's lease base + "-", + ".".
_POLL = (
    "SELECT EXISTS (SELECT 1 FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    " WHERE queue = q.value AND state = 'waiting') OR EXISTS (SELECT 1 FROM qgen_jobs"
    " INDEXED BY qgen_jobs_delayed WHERE queue = q.value AND state = 'delayed'"
    " AND start_after <= ?2), coalesce((SELECT paused FROM qgen_queues"
    " WHERE name = q.value), 0), (SELECT CASE WHEN count(*) THEN json_group_array(id) END"
    " FROM qgen_jobs INDEXED BY qgen_jobs_cancel_asked WHERE queue = q.value"
    " AND state = 'active' AND cancel_requested = 1 AND lease >= ?3 AND lease < ?4)"
    " FROM json_each(?1) AS q ORDER BY q.key"
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
# What an operator's cancel turns a job into when its worker gives it back, retries it or
# loses its lease: it never runs again.
_CANCELLED_ERROR = """'{"type":"Cancelled","message":"cancelled by request","traceback":null}'"""
_CANCELLED = (
    "state = 'cancelled', finished_at = ?1, lease = NULL, lease_until = NULL,"
    " error = " + _CANCELLED_ERROR
)
_RETRY = (
    "UPDATE qgen_jobs SET state = CASE WHEN cancel_requested THEN 'cancelled' ELSE ?2 END,"
    " error = CASE WHEN cancel_requested THEN " + _CANCELLED_ERROR + " ELSE ?3 END,"
    " start_after = ?4,"
    " finished_at = CASE WHEN cancel_requested THEN ?1 END,"
    " attempts_made = attempts_made + 1, lease = NULL, lease_until = NULL"
    " WHERE seq = ?5 AND lease = ?6"
)
_RELEASE = (
    "UPDATE qgen_jobs SET state = 'waiting', lease = NULL, lease_until = NULL"
    " WHERE seq = ?2 AND lease = ?3 AND NOT cancel_requested"
)
_RELEASE_CANCELLED = (
    "UPDATE qgen_jobs SET " + _CANCELLED + " WHERE seq = ?2 AND lease = ?3 AND cancel_requested"
)
_RENEW = "UPDATE qgen_jobs SET lease_until = ? WHERE seq = ? AND lease = ?"
# Of the jobs just renewed (seqs as a JSON array), the ones an operator asked to cancel.
_CANCEL_REQUESTED = (
    "SELECT id FROM qgen_jobs WHERE seq IN (SELECT value FROM json_each(?)) AND cancel_requested"
)
_PROGRESS = "UPDATE qgen_jobs SET progress = ? WHERE seq = ? AND lease = ?"
# The copy keeps the job's meta (its trace context), so a redrive can bring it back.
_DEAD_COPY = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, start_after,"
    " created_at, dead_letter_of, meta) SELECT ?, id, 'waiting', priority, data, ?, ?, ?,"
    " queue, meta FROM qgen_jobs WHERE seq = ? AND lease IS ?"
    " ON CONFLICT (queue, id) DO NOTHING"
)
# Expired leases of the worker's queues (as a JSON array), and rows left active with no lease
# at all (written by something else): both are recovered.
_EXPIRED = (
    "SELECT seq, queue, id, stalled, lease, cancel_requested FROM qgen_jobs"
    " INDEXED BY qgen_jobs_leases WHERE queue IN (SELECT value FROM json_each(?1))"
    " AND state = 'active' AND (lease_until IS NULL OR lease_until < ?2)"
)
_STALE = "seq = ?2 AND state = 'active' AND (lease_until IS NULL OR lease_until < ?1)"
_RECOVER = (
    "UPDATE qgen_jobs SET state = 'waiting', lease = NULL, lease_until = NULL,"
    " stalled = ?3 WHERE " + _STALE + " AND NOT cancel_requested"
)
_RECOVER_FAILED = (
    "UPDATE qgen_jobs SET state = 'failed', lease = NULL, lease_until = NULL,"
    " stalled = ?3, error = ?4, finished_at = ?1 WHERE " + _STALE + " AND NOT cancel_requested"
)
_RECOVER_CANCELLED = (
    "UPDATE qgen_jobs SET " + _CANCELLED + " WHERE " + _STALE + " AND cancel_requested"
)
# Retention: the finished rows of one state past the newest ``keep`` (newest first), or
# finished before a time (oldest first), at most ``limit`` per statement so that a trim that
# fell behind catches up in steps that each hold the write lock briefly.
_TRIM_COUNT = (
    "DELETE FROM qgen_jobs WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_finished"
    " WHERE queue = ?1 AND state = ?2 AND finished_at IS NOT NULL"
    " ORDER BY finished_at DESC, id DESC LIMIT ?4 OFFSET ?3)"
)
_TRIM_AGE = (
    "DELETE FROM qgen_jobs WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_finished"
    " WHERE queue = ?1 AND state = ?2 AND finished_at IS NOT NULL AND finished_at < ?3"
    " ORDER BY finished_at, id LIMIT ?4)"
)

# A leased row: seq, id, priority, data, attempts_made, max_attempts, backoff.
LeasedRow = tuple[int, str, Any, str, int, int, str | None, Any]
# An expired lease: seq, queue, id, stall count, lease, cancel requested.
ExpiredRow = tuple[int, str, str, int, str | None, int]


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


def poll(
    conn: sqlite3.Connection, queues: str, now: float, lease_base: str
) -> list[tuple[int, int, str | None]]:
    """(anything ready, paused, ids to cancel) per queue of ``queues`` (a JSON array), in its
    order; the ids (a JSON array, or None) are those of jobs leased with ``lease_base``."""
    params = (queues, now, lease_base + "-", lease_base + ".")
    rows: list[tuple[int, int, str | None]] = conn.execute(_POLL, params).fetchall()
    return rows


def promote(conn: sqlite3.Connection, queue: str, now: float) -> int:
    """Inside a write transaction: delayed jobs whose time has come become waiting."""
    return conn.execute(_PROMOTE, (queue, now)).rowcount


def _order(row: LeasedRow) -> tuple[float, int]:
    """Fetch order of a leased row; a priority that is not a number (a row written by
    something else) sorts as 0 instead of failing the round."""
    priority = row[2]
    if not isinstance(priority, int | float) or priority != priority:
        priority = 0
    return (-priority, row[0])


def lease(
    conn: sqlite3.Connection,
    queue: str,
    limit: int,
    token: str,
    worker: str,
    now: float,
    lease_until: float,
) -> list[LeasedRow]:
    """Inside a write transaction: mark up to ``limit`` ready jobs active for ``token`` (none
    while the queue is paused); the rows in fetch order (RETURNING has none)."""
    rows: list[LeasedRow] = conn.execute(
        _LEASE, (token, lease_until, worker, now, queue, limit)
    ).fetchall()
    rows.sort(key=_order)
    return rows


def finish(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[str, str | None, str | None, float, int, str]],
) -> int:
    """(state, result JSON, error JSON, finished_at, seq, lease) per job; returns rows changed."""
    return conn.executemany(_FINISH, rows).rowcount


def delete_leased(conn: sqlite3.Connection, rows: Sequence[tuple[int, str]]) -> int:
    return conn.executemany(_DELETE_LEASED, rows).rowcount


def retry(
    conn: sqlite3.Connection, now: float, rows: Sequence[tuple[str, str, float, int, str]]
) -> int:
    """(state, error JSON, start_after, seq, lease) per job; a job an operator asked to cancel
    ends cancelled instead."""
    return conn.executemany(_RETRY, [(now, *row) for row in rows]).rowcount


def release(conn: sqlite3.Connection, now: float, rows: Sequence[tuple[int, str]]) -> int:
    """Give leased jobs back untouched; a job an operator asked to cancel ends cancelled."""
    params = [(now, seq, lease) for seq, lease in rows]
    back = conn.executemany(_RELEASE, params).rowcount
    return back + conn.executemany(_RELEASE_CANCELLED, params).rowcount


def renew(
    conn: sqlite3.Connection, lease_until: float, rows: Sequence[tuple[int, str]]
) -> list[str]:
    """Extend the leases; returns the ids among them an operator asked to cancel."""
    conn.executemany(_RENEW, [(lease_until, s, t) for s, t in rows])
    seqs = "[" + ",".join(str(int(s)) for s, _ in rows) + "]"
    return [job_id for (job_id,) in conn.execute(_CANCEL_REQUESTED, (seqs,))]


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
    """Insert a fresh waiting copy of job ``seq`` (same id, data and meta, its queue recorded
    as ``dead_letter_of``) into queue ``target``, if the job is still held under ``lease``. An
    id already in ``target`` is left as it is."""
    conn.execute(_DEAD_COPY, (target, max_attempts, now, now, seq, lease))


def expired(conn: sqlite3.Connection, queues: str, now: float) -> list[ExpiredRow]:
    """Leases of ``queues`` (a JSON array) that ran out, or rows active with none."""
    rows: list[ExpiredRow] = conn.execute(_EXPIRED, (queues, now)).fetchall()
    return rows


def recover(
    conn: sqlite3.Connection, seq: int, stalled: int, fail_error: str | None, now: float
) -> bool:
    """Give an expired lease back (stall counted), or fail the job when ``fail_error`` is set;
    a job an operator asked to cancel ends cancelled. Guarded by state and lease_until, so a
    lease renewed meanwhile is left alone."""
    if fail_error is None:
        cur = conn.execute(_RECOVER, (now, seq, stalled))
    else:
        cur = conn.execute(_RECOVER_FAILED, (now, seq, stalled, fail_error))
    if cur.rowcount == 1:
        return True
    return conn.execute(_RECOVER_CANCELLED, (now, seq)).rowcount == 1


def trim(
    conn: sqlite3.Connection,
    queue: str,
    state: str,
    keep: int | None,
    before: float | None,
    limit: int,
) -> int:
    """Delete finished rows of ``state`` finished before ``before`` and beyond the ``keep``
    most recently finished, at most ``limit`` of each; returns how many went."""
    gone = 0
    if before is not None:
        gone += conn.execute(_TRIM_AGE, (queue, state, before, limit)).rowcount
    if keep is not None:
        gone += conn.execute(_TRIM_COUNT, (queue, state, keep, limit)).rowcount
    return gone

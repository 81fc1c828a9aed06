"""The SQLite queue file: schema, connection set-up and the synchronous SQL of every operation.

Every method here runs on one thread at a time for a given connection (the backend's event loop
for adds and reads, the consumer's writer thread for leases and outcomes). Writes that span more
than one statement run inside ``BEGIN IMMEDIATE`` so two processes never interleave them; a
single-statement add is its own (implicit) transaction. Queue names and job ids only ever reach
SQL as parameters.

One row per job in ``qgen_jobs``. ``seq`` (the rowid) gives creation order and the cheapest way
to address a row. A job waiting for its ``start_after`` time (a delayed add, a retry with
backoff) is ``delayed``, in the partial index ``qgen_jobs_delayed``; each round of a worker first
promotes the due ones to ``waiting``. The ready-job fetch walks the partial index
``qgen_jobs_ready`` (only waiting rows, ordered ``priority DESC, seq``), so neither finished nor
delayed rows are ever scanned.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

SCHEMA_VERSION = 2

_SCHEMA = """
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
    ON qgen_jobs (queue, lease_until) WHERE state = 'active';
"""
# Version 1 kept delayed jobs as 'waiting' with a future start_after.
_MIGRATE_1 = "UPDATE qgen_jobs SET state = 'delayed' WHERE state = 'waiting' AND start_after > ?"
# Created by the first consumer of a queue with remove_on_complete / remove_on_fail: it costs
# every finished job an index entry, which files without retention need not pay.
FINISHED_INDEX = (
    "CREATE INDEX IF NOT EXISTS qgen_jobs_finished"
    " ON qgen_jobs (queue, state, finished_at) WHERE finished_at IS NOT NULL"
)

_INSERT = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, backoff,"
    " start_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (queue, id) DO NOTHING"
)
_GET = (
    "SELECT id, queue, state, data, progress, result, error, attempts_made, max_attempts,"
    " created_at, finished_at, start_after FROM qgen_jobs WHERE queue = ? AND id = ?"
)
_LEASE = (
    "UPDATE qgen_jobs SET state = 'active', lease = ?, lease_until = ?, worker = ?,"
    " started_at = ? WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    " WHERE queue = ? AND state = 'waiting' ORDER BY priority DESC, seq LIMIT ?)"
    " RETURNING seq, id, priority, data, attempts_made, max_attempts, backoff"
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

T = TypeVar("T")


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_DECODE = json.JSONDecoder().decode


def dumps(value: Any) -> str:
    return _ENCODE(value)


def loads(text: str | None) -> Any:
    return None if text is None else _DECODE(text)


def open_db(path: Path, synchronous: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """Open (and create if needed) the queue file in WAL mode, in autocommit mode: every write
    transaction is opened explicitly. The returned connection never waits for a lock inside
    SQLite (``busy_timeout = 0``): callers retry with :func:`write` / :func:`read`, which wait
    on the event loop instead of blocking it, in steps finer than SQLite's own busy handler
    (which sleeps 1, 2, 5, 10 ... ms)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    # Only takes effect on a file not yet written. Jobs are small rows and every commit writes
    # the pages it touched to the WAL: 2 KiB pages made adds ~20% and rounds ~10% faster than
    # 4 KiB (measured); larger payloads simply use overflow pages.
    conn.execute("PRAGMA page_size = 2048")
    _to_wal(conn, busy_timeout_ms / 1000)
    # Validated by the URL parser to be FULL or NORMAL; pragmas cannot take parameters.
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = OFF")
    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
        create_schema(conn)
    conn.execute("PRAGMA busy_timeout = 0")
    return conn


def _to_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch a new file to WAL. Several processes opening a fresh file at once can get
    "database is locked" here without SQLite's busy handler being asked: retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def create_schema(conn: sqlite3.Connection) -> None:
    with_write(conn, _create_schema)


def _create_schema(conn: sqlite3.Connection) -> None:
    for stmt in _SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)
    conn.execute(_MIGRATE_1, (time.time(),))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def with_write(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``body`` in one ``BEGIN IMMEDIATE`` transaction; roll back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.rollback()
        raise
    return out


async def write(
    conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T], timeout: float
) -> T:
    """:func:`with_write`, retried while another connection holds the write lock, for up to
    ``timeout`` seconds; waits on the event loop between tries."""
    return await _retry(lambda: with_write(conn, body), timeout)


async def read(conn: sqlite3.Connection, fn: Callable[[], T], timeout: float) -> T:
    """A read (or single autocommit statement), retried the same way."""
    return await _retry(fn, timeout)


async def _retry(fn: Callable[[], T], timeout: float) -> T:
    delay = 0.0001
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.001)  # short: a round holds the lock for about 1 ms


@dataclass(frozen=True, slots=True)
class NewJob:
    id: str
    data: str  # JSON text
    priority: int
    max_attempts: int
    backoff: str | None  # JSON text
    start_after: float

    def state(self, now: float) -> str:
        return "delayed" if self.start_after > now else "waiting"


def insert_one(conn: sqlite3.Connection, queue: str, job: NewJob, now: float) -> None:
    conn.execute(
        _INSERT,
        (
            queue,
            job.id,
            job.state(now),
            job.priority,
            job.data,
            job.max_attempts,
            job.backoff,
            job.start_after,
            now,
        ),
    )


def insert_many(c: sqlite3.Connection, queue: str, jobs: Sequence[NewJob], now: float) -> None:
    """Inside a write transaction."""
    rows = [
        (
            queue,
            j.id,
            j.state(now),
            j.priority,
            j.data,
            j.max_attempts,
            j.backoff,
            j.start_after,
            now,
        )
        for j in jobs
    ]
    c.executemany(_INSERT, rows)


def get_row(conn: sqlite3.Connection, queue: str, job_id: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(_GET, (queue, job_id)).fetchone()
    return row


@dataclass(slots=True)
class Leased:
    queue: str
    seq: int
    id: str
    priority: int
    data: str
    attempts_made: int
    max_attempts: int
    backoff: str | None
    lease: str


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
) -> list[Leased]:
    """Inside a write transaction: mark up to ``limit`` ready jobs active for ``token``."""
    rows = conn.execute(_LEASE, (token, lease_until, worker, now, queue, limit)).fetchall()
    out = [Leased(queue, r[0], r[1], r[2], r[3], r[4], r[5], r[6], token) for r in rows]
    out.sort(key=lambda j: (-j.priority, j.seq))  # RETURNING has no order
    return out


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
        cur = conn.execute(
            "UPDATE qgen_jobs SET state = 'waiting', lease = NULL, lease_until = NULL,"
            " stalled = ? WHERE seq = ? AND state = 'active' AND lease_until < ?",
            (stalled, seq, now),
        )
    else:
        cur = conn.execute(
            "UPDATE qgen_jobs SET state = 'failed', lease = NULL, lease_until = NULL,"
            " stalled = ?, error = ?, finished_at = ? WHERE seq = ? AND state = 'active'"
            " AND lease_until < ?",
            (stalled, fail_error, now, seq, now),
        )
    return cur.rowcount == 1


def trim(conn: sqlite3.Connection, queue: str, state: str, keep: int) -> int:
    """Delete finished rows of ``state`` beyond the ``keep`` most recently finished."""
    return conn.execute(_TRIM, (queue, state, keep)).rowcount


def now() -> float:
    return time.time()

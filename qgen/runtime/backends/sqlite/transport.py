"""Connections to the SQLite queue file, and running statements on them without blocking.

Every write that spans more than one statement runs inside ``BEGIN IMMEDIATE`` (:func:`with_write`)
so two processes never interleave them; a single-statement add is its own (implicit)
transaction. Connections never wait for a lock inside SQLite: :func:`write` and :func:`read` retry
while another process holds it and wait on the event loop between tries, so the loop keeps
running. Statements run inline on the event loop: they are short, and a thread hop per statement
measured slower.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from qgen.runtime.backends.sqlite import sql

T = TypeVar("T")


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
    if conn.execute("PRAGMA user_version").fetchone()[0] != sql.SCHEMA_VERSION:
        with_write(conn, sql.apply_schema)
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


async def read(fn: Callable[[], T], timeout: float) -> T:
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

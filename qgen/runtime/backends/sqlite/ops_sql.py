"""SQL of the SQLite operator API (issue 14): counts, listing, cancel, retry, pause, clean,
redrive and the workers' heartbeats. Every value is a parameter; each statement is served by a
partial index of schema version 3 (:mod:`.migrations`), so counts and pages stay fast with
100,000 jobs in a queue."""

from __future__ import annotations

from qgen.runtime.backends.sqlite.sql import INFO

FINISHED_STATES = "('completed', 'failed', 'discarded', 'cancelled')"

# Per-status counts of one queue from the partial indexes (a delayed job that is due counts
# as waiting, as ``get`` shows it). Params: queue, now.
COUNTS = (
    "SELECT (SELECT count(*) FROM qgen_jobs INDEXED BY qgen_jobs_ready"
    "  WHERE queue = ?1 AND state = 'waiting'),"
    " (SELECT count(*) FROM qgen_jobs INDEXED BY qgen_jobs_delayed"
    "  WHERE queue = ?1 AND state = 'delayed' AND start_after <= ?2),"
    " (SELECT count(*) FROM qgen_jobs INDEXED BY qgen_jobs_delayed"
    "  WHERE queue = ?1 AND state = 'delayed' AND start_after > ?2),"
    " (SELECT count(*) FROM qgen_jobs INDEXED BY qgen_jobs_leases"
    "  WHERE queue = ?1 AND state = 'active'),"
    " (SELECT coalesce(max(paused), 0) FROM qgen_queues WHERE name = ?1)"
)
COUNT_FINISHED = (
    "SELECT state, count(*) FROM qgen_jobs INDEXED BY qgen_jobs_finished"
    " WHERE queue = ? AND finished_at IS NOT NULL GROUP BY state"
)


def _page(time: str, index: str, where: str) -> str:
    """Jobs newest first by ``time``, ties by id, strictly after the cursor's (time, id); the
    last column is ``time``. Params: queue, now or state, cursor time, cursor id, limit."""
    return (
        "SELECT " + INFO + ", " + time + " AS t FROM qgen_jobs INDEXED BY " + index + " "
        "WHERE queue = ?1 AND " + where + " AND " + time + " <= ?3 "
        "AND (" + time + " < ?3 OR id < ?4) ORDER BY t DESC, id DESC LIMIT ?5"
    )


# Waiting: the waiting rows, and the delayed ones already due (few: workers promote them).
LIST_WAITING = (
    "SELECT * FROM (" + _page("created_at", "qgen_jobs_waiting", "state = 'waiting'") + ") "
    "UNION ALL SELECT * FROM ("
    + _page("created_at", "qgen_jobs_delayed", "state = 'delayed' AND start_after <= ?2")
    + ") ORDER BY t DESC, id DESC LIMIT ?5"
)
LIST_DELAYED = _page("start_after", "qgen_jobs_delayed", "state = 'delayed' AND start_after > ?2")
LIST_ACTIVE = _page("coalesce(started_at, 0)", "qgen_jobs_leases", "state = 'active'")
LIST_FINISHED = _page("finished_at", "qgen_jobs_finished", "state = ?2 AND finished_at IS NOT NULL")

_CANCELLED_ERROR = '{"type":"Cancelled","message":"cancelled before it ran","traceback":null}'
# A waiting or delayed job: cancelled now, it never starts. Params: queue, id, now.
CANCEL_WAITING = (
    "UPDATE qgen_jobs SET state = 'cancelled', finished_at = ?3, error = '"
    + _CANCELLED_ERROR
    + "' WHERE queue = ?1 AND id = ?2 AND state IN ('waiting', 'delayed')"
)
# A running job: a request its worker reads when it renews the lease. Params: queue, id.
CANCEL_ACTIVE = (
    "UPDATE qgen_jobs SET cancel_requested = 1 WHERE queue = ? AND id = ? AND state = 'active'"
)
# Back to waiting with fresh attempts (the first parameter is now).
RESET = (
    "state = 'waiting', attempts_made = 0, stalled = 0, error = NULL, result = NULL,"
    " progress = NULL, start_after = ?1, finished_at = NULL, started_at = NULL, lease = NULL,"
    " lease_until = NULL, cancel_requested = 0"
)
# Params: now, queue, id.
RETRY_JOB = (
    "UPDATE qgen_jobs SET " + RESET + " WHERE queue = ?2 AND id = ?3"
    " AND state IN ('failed', 'discarded', 'cancelled')"
)
# Every failed job, oldest first, at most the limit (-1: all). Params: now, queue, limit.
RETRY_FAILED = (
    "UPDATE qgen_jobs SET " + RESET + " WHERE seq IN (SELECT seq FROM qgen_jobs"
    " INDEXED BY qgen_jobs_finished WHERE queue = ?2 AND state = 'failed'"
    " AND finished_at IS NOT NULL ORDER BY finished_at, id LIMIT ?3)"
)
SET_PAUSED = (
    "INSERT INTO qgen_queues (name, paused) VALUES (?, ?)"
    " ON CONFLICT (name) DO UPDATE SET paused = excluded.paused"
)
IS_PAUSED = "SELECT coalesce(max(paused), 0) FROM qgen_queues WHERE name = ?"
# Finished rows of one state finished before the cutoff (NULL: any time), all but the newest
# ``keep``, at most ``limit`` per statement. Params: queue, state, cutoff, keep, limit.
CLEAN = (
    "DELETE FROM qgen_jobs WHERE seq IN (SELECT seq FROM qgen_jobs INDEXED BY qgen_jobs_finished"
    " WHERE queue = ?1 AND state = ?2 AND finished_at IS NOT NULL"
    " AND (?3 IS NULL OR finished_at < ?3) ORDER BY finished_at DESC, id DESC"
    " LIMIT ?5 OFFSET ?4)"
)
# Dead-letter copies of jobs that failed on a queue, oldest first, after (created, seq).
# Params: dead-letter queue, source queue, after created, after seq, limit.
DEAD_LETTERS = (
    "SELECT id, data, created_at, seq FROM qgen_jobs INDEXED BY qgen_jobs_dead_letter_of"
    " WHERE queue = ?1 AND dead_letter_of = ?2 AND state <> 'active'"
    " AND (created_at > ?3 OR (created_at = ?3 AND seq > ?4)) ORDER BY created_at, seq LIMIT ?5"
)
COPY = "SELECT data, priority, meta FROM qgen_jobs WHERE queue = ? AND id = ? AND state <> 'active'"
# The copy back in its queue: a new row, or the finished original waiting again with the
# copy's data and fresh attempts; nothing while a job with that id waits or runs there. The
# copy's meta (trace context) goes with it; a copy written without one keeps the original's.
# Params: now, target queue, id, priority, data, max attempts, meta.
REDRIVE = (
    "INSERT INTO qgen_jobs (queue, id, state, priority, data, max_attempts, start_after,"
    " created_at, meta) VALUES (?2, ?3, 'waiting', ?4, ?5, ?6, ?1, ?1, ?7)"
    " ON CONFLICT (queue, id) DO UPDATE SET data = excluded.data,"
    " priority = excluded.priority, max_attempts = excluded.max_attempts,"
    " meta = coalesce(excluded.meta, qgen_jobs.meta), " + RESET + ""
    " WHERE state IN " + FINISHED_STATES
)
DELETE_JOB = "DELETE FROM qgen_jobs WHERE queue = ? AND id = ?"
BEAT = (
    "INSERT INTO qgen_workers (key, name, host, pid, queues, started_at, last_seen)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET last_seen = excluded.last_seen, queues = excluded.queues"
)
# Forget a worker that stopped, and every one not seen since the cutoff. Params: key, cutoff.
FORGET = "DELETE FROM qgen_workers WHERE key = ? OR last_seen < ?"
# Params: seen since.
WORKERS = (
    "SELECT name, host, pid, queues, started_at, last_seen FROM qgen_workers"
    " WHERE last_seen >= ? ORDER BY name, host, pid"
)

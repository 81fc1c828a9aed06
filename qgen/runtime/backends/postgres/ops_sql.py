"""SQL of the PostgreSQL operator API (issue 14): counts, listing, cancel, retry, pause,
clean, redrive and the workers' heartbeats. ``{s}`` stands for the schema (an identifier);
every value is a parameter. Each statement is served by an index of migration 3 or 1, so
counts and pages stay fast with 100,000 jobs in a queue."""

from __future__ import annotations

from typing import LiteralString

# A job as the client sees it (jobs.job_info reads the columns in this order).
INFO = (
    "j.id, j.state::text, j.start_after > now(), j.data::text, j.progress::text, "
    "j.output::text, j.error::text, j.retry_count, j.retry_limit, "
    "extract(epoch FROM j.created_on)::float8, extract(epoch FROM j.completed_on)::float8, "
    "extract(epoch FROM j.started_on)::float8, j.worker, j.priority, "
    "extract(epoch FROM j.start_after)::float8, j.dead_letter_of"
)

# Per-status counts from the partial indexes (waiting = ready - delayed). Params: queue x5.
_COUNTS = (
    "SELECT (SELECT count(*) FROM {s}.job WHERE queue = %s AND state < 'active'), "
    "(SELECT count(*) FROM {s}.job WHERE queue = %s AND state < 'active' "
    "  AND (state = 'retry' OR start_after > created_on) AND start_after > now()), "
    "(SELECT count(*) FROM {s}.job WHERE queue = %s AND state = 'active'), "
    "(SELECT coalesce(json_object_agg(state, n), '{{}}')::text FROM (SELECT state, count(*) n "
    "  FROM {s}.job WHERE queue = %s AND state > 'active' GROUP BY state) x), "
    "(SELECT coalesce(bool_or(paused), false) FROM {s}.queue WHERE name = %s)"
)


def _listing(where: LiteralString, time: LiteralString) -> LiteralString:
    """Jobs newest first by ``time``, ties by id, after the cursor's (time, id). Params:
    queue, [state,] cursor time, cursor id, limit. The last column is ``time`` in
    microseconds since the epoch (exact in a cursor)."""
    return (
        "SELECT " + INFO + ", (extract(epoch FROM j." + time + ") * 1000000)::bigint "
        "FROM {s}.job j WHERE j.queue = %s AND " + where + " "
        "AND (j." + time + ", j.id) < (%s, %s) "
        "ORDER BY j." + time + " DESC, j.id DESC LIMIT %s"
    )


_LIST_WAITING = _listing("j.state < 'active' AND j.start_after <= now()", "created_on")
_LIST_DELAYED = _listing(
    "j.state < 'active' AND (j.state = 'retry' OR j.start_after > j.created_on) "
    "AND j.start_after > now()",
    "start_after",
)
_LIST_ACTIVE = _listing("j.state = 'active'", "started_on")
_LIST_FINISHED = _listing(
    "j.state > 'active' AND j.state = %s::text::{s}.job_state", "completed_on"
)

# Waiting or delayed: cancelled now (it never starts); active: a request the worker holding
# it sees at once (NOTIFY) or at its next lease renewal. Returns whether it was running.
# Params: queue, id, queue, id.
_CANCEL = (
    "WITH w AS (UPDATE {s}.job SET state = 'cancelled', completed_on = now(), "
    "  error = jsonb_build_object('type', 'Cancelled', 'message', 'cancelled before it ran') "
    "  WHERE queue = %s AND id = %s AND state < 'active' RETURNING false AS running), "
    "a AS (UPDATE {s}.job SET cancel_requested = true "
    "  WHERE queue = %s AND id = %s AND state = 'active' RETURNING true AS running) "
    "SELECT running FROM w UNION ALL SELECT running FROM a"
)
_RESET = (
    "state = 'created', retry_count = 0, stalled_count = 0, error = NULL, output = NULL, "
    "progress = NULL, start_after = now(), completed_on = NULL, started_on = NULL, "
    "lease_until = NULL, cancel_requested = false"
)
# A failed, discarded or cancelled job back to waiting with fresh attempts. Params: queue, id.
_RETRY_JOB = (
    "UPDATE {s}.job SET " + _RESET + " WHERE queue = %s AND id = %s "
    "AND state IN ('failed', 'discarded', 'cancelled') RETURNING 1"
)
# Every failed job (oldest first, at most the limit; NULL: all). Params: queue, limit.
_RETRY_FAILED = (
    "UPDATE {s}.job SET " + _RESET + " WHERE ctid IN (SELECT ctid FROM {s}.job "
    "WHERE queue = %s AND state > 'active' AND state = 'failed' "
    "ORDER BY completed_on, id LIMIT %s FOR UPDATE SKIP LOCKED)"
)
_SET_PAUSED = (
    "INSERT INTO {s}.queue (name, paused) VALUES (%s, %s) "
    "ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused"
)
_IS_PAUSED = "SELECT coalesce(bool_or(paused), false) FROM {s}.queue WHERE name = %s"
_PAUSED_OF = "SELECT name, paused FROM {s}.queue WHERE name = ANY(%s)"
# Dead-letter copies of jobs that failed on a queue, oldest first, after (created, seq).
# Params: dead-letter queue, source queue, after created, after seq, limit.
_DEAD_LETTERS = (
    "SELECT id, data::text, created_on, seq FROM {s}.job "
    "WHERE queue = %s AND dead_letter_of = %s AND state <> 'active' "
    "AND (created_on, seq) > (%s, %s) ORDER BY created_on, seq LIMIT %s"
)
# One dead-letter copy back to its queue, in one statement: the source row (failed, or gone
# to retention) becomes waiting with fresh attempts and the copy's data; the copy is deleted.
# Nothing happens while a job with that id is waiting or running there. The copy's meta (trace
# context) goes with it; a copy written without one keeps the original's. Params: dead-letter
# queue, id, target queue, retry limit, dead_letter of the target.
_REDRIVE = (
    "WITH c AS (SELECT data, priority, meta FROM {s}.job WHERE queue = %s AND id = %s "
    "  AND state <> 'active' FOR UPDATE), "
    "up AS (INSERT INTO {s}.job AS t (queue, id, data, priority, retry_limit, dead_letter, "
    "  meta) SELECT %s, %s, c.data, c.priority, %s, %s, c.meta FROM c "
    "  ON CONFLICT (queue, id) DO UPDATE SET data = EXCLUDED.data, "
    "  meta = coalesce(EXCLUDED.meta, t.meta), "
    + _RESET
    + " WHERE t.state > 'active' RETURNING 1), "
    "gone AS (DELETE FROM {s}.job WHERE queue = %s AND id = %s AND EXISTS (SELECT 1 FROM up)) "
    "SELECT count(*) FROM up"
)
_BEAT = (
    "INSERT INTO {s}.worker_beat (key, name, host, pid, queues, started_at) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET last_seen = now(), queues = EXCLUDED.queues"
)
# Forget a worker that stopped, and every one not seen for a while. Params: key, seconds.
_FORGET = (
    "DELETE FROM {s}.worker_beat WHERE key = %s OR last_seen < now() - make_interval(secs => %s)"
)
# Params: seconds, queue or NULL, queue or NULL.
_WORKERS = (
    "SELECT name, host, pid, queues, started_at, extract(epoch FROM last_seen)::float8 "
    "FROM {s}.worker_beat WHERE last_seen > now() - make_interval(secs => %s) "
    "AND (%s::text IS NULL OR %s::text = ANY(queues)) ORDER BY name, host, pid"
)

# When the oldest waiting job was added (epoch s), NULL when none waits. Param: queue.
_OLDEST_WAITING = (
    "SELECT extract(epoch FROM min(created_on))::float8 FROM {s}.job "
    "WHERE queue = %s AND state < 'active' AND start_after <= now()"
)

OPS_TEMPLATES: dict[str, LiteralString] = {
    "oldest_waiting": _OLDEST_WAITING,
    "counts": _COUNTS,
    "list_waiting": _LIST_WAITING,
    "list_delayed": _LIST_DELAYED,
    "list_active": _LIST_ACTIVE,
    "list_finished": _LIST_FINISHED,
    "cancel_job": _CANCEL,
    "retry_job": _RETRY_JOB,
    "retry_failed": _RETRY_FAILED,
    "set_paused": _SET_PAUSED,
    "is_paused": _IS_PAUSED,
    "paused_of": _PAUSED_OF,
    "dead_letters": _DEAD_LETTERS,
    "redrive": _REDRIVE,
    "beat": _BEAT,
    "forget": _FORGET,
    "workers": _WORKERS,
}

"""SQL of the PostgreSQL backend: every statement, composed once per schema.

Names follow pg-boss where they fit (job states created < retry < active < completed <
cancelled < failed, compared with ``<``; ``retry_limit``, ``retry_count``, ``start_after``,
``output``, ``dead_letter``). The schema name is validated by the caller and always enters SQL as
an :class:`psycopg.sql.Identifier`; every value is a parameter.

Planner note: fetching orders by ``priority DESC, seq``, which only the partial index of ready
jobs (``state < 'active'``) provides, so a table full of finished rows (or statistics that say
every row is ready) never turns the fetch into a walk of the primary key.
"""

from __future__ import annotations

import zlib
from typing import ClassVar, LiteralString

from psycopg import sql

from qgen.runtime.backends.postgres.ops_sql import INFO, OPS_TEMPLATES


def lock_key(schema: str) -> int:
    """Advisory lock id of a schema's migrations (stable across processes and versions)."""
    return 0x71_67_65_6E_00000000 | zlib.crc32(f"qgen:{schema}".encode())


WAITER_HELLO = "\nwaiter"  # new-job channel payload: a client started waiting for results
# New-job channel payloads of the operator API, each followed by a queue name (and for a cancel,
# "\n" and the job id): workers apply them at once (a lost one is caught up by polling).
PAUSED, RESUMED, CANCEL = "\npaused\n", "\nresumed\n", "\ncancel\n"


def waiter_app_name(schema: str) -> str:
    """application_name of a client's waiting connection: workers notify finished jobs only
    while one exists (pg_stat_activity), so a busy queue without waiters saves the NOTIFY."""
    return f"qgen-wait:{schema}"


def channels(schema: str) -> tuple[str, str]:
    """(new-job channel, finished-job channel); payloads are queue names / 'queue\\nid,id'."""
    return f"qgen_{schema}_new", f"qgen_{schema}_done"


# The statements, ``{s}`` standing for the schema (quoted as an identifier when rendered).

_COLS = "queue, id, data, priority, start_after, retry_limit, backoff, dead_letter, meta"
_INSERT_NOTIFY = (
    "WITH ins AS (INSERT INTO {s}.job (" + _COLS + ") VALUES "
    "(%s, %s, %s::text::jsonb, %s, now() + make_interval(secs => %s), %s, %s::jsonb, %s, "
    "%s::jsonb) "
    "ON CONFLICT (queue, id) DO NOTHING RETURNING 1) "
    "SELECT pg_notify(%s, %s) FROM ins"
)
_INSERT_MANY = (
    "INSERT INTO {s}.job (" + _COLS + ") "
    "SELECT %s, v.id, v.data::jsonb, v.priority, now() + make_interval(secs => v.delay), "
    "v.retry_limit, v.backoff::jsonb, %s, v.meta::jsonb "
    "FROM unnest(%b::text[], %b::text[], %b::int[], %b::float8[], %b::int[], %b::text[], "
    "%b::text[]) AS v(id, data, priority, delay, retry_limit, backoff, meta) "
    "ON CONFLICT (queue, id) DO NOTHING"
)
# jsonb columns come back as text, decoded by qgen: a row nested too deep for the decoder then
# fails alone (the consumer) or is shown as text (the client) instead of failing the whole read.
_GET = "SELECT " + INFO + " FROM {s}.job j WHERE j.queue = %s AND j.id = %s"
# What a lease returns: backoff and meta (the trace context) as text, decoded by qgen.
_LEASED = (
    "j.id, j.data::text, j.retry_count, j.retry_limit, j.backoff::text, "
    "j.stalled_count, j.dead_letter, j.priority, j.seq, j.meta::text"
)
# Lease the next batch. Params: worker, lease seconds, queue, queue (a paused queue leases
# nothing), may take jobs that stalled before (quarantine: one at a time per process), limit.
_FETCH = (
    "UPDATE {s}.job j SET state = 'active', worker = %s, started_on = now(), "
    "lease_until = now() + make_interval(secs => %s) "
    "FROM (SELECT ctid AS c FROM {s}.job "
    "  WHERE queue = %s AND state < 'active' AND start_after <= now() "
    "  AND NOT (SELECT coalesce(bool_or(paused), false) FROM {s}.queue WHERE name = %s) "
    "  AND (stalled_count = 0 OR %s) "
    "  ORDER BY priority DESC, seq LIMIT %s FOR UPDATE SKIP LOCKED) nx "
    "WHERE j.ctid = nx.c "  # locked by this statement, so the row cannot move
    "RETURNING " + _LEASED
)
# The same over several queues, each with its own limit and lease (one index probe per queue,
# so an idle queue costs one probe and a deep backlog never takes another queue's share).
# Params: worker, queues, limits, lease seconds, may take jobs that stalled before. Rows as
# _FETCH's, then the queue.
_FETCH_MANY = (
    "UPDATE {s}.job j SET state = 'active', worker = %s, started_on = now(), "
    "lease_until = now() + make_interval(secs => nx.lease) "
    "FROM (SELECT x.c, w.lease FROM unnest(%b::text[], %b::int[], %b::float8[]) "
    "  AS w(queue, n, lease) CROSS JOIN LATERAL (SELECT ctid AS c FROM {s}.job "
    "  WHERE queue = w.queue AND state < 'active' AND start_after <= now() "
    "  AND NOT EXISTS (SELECT 1 FROM {s}.queue q WHERE q.name = w.queue AND q.paused) "
    "  AND (stalled_count = 0 OR %s) "
    "  ORDER BY priority DESC, seq LIMIT w.n FOR UPDATE SKIP LOCKED) x) nx "
    "WHERE j.ctid = nx.c "
    "RETURNING " + _LEASED + ", j.queue"
)
_GUARD = (
    "FROM unnest(%b::text[], %b::int[]) WITH ORDINALITY AS v(id, stalled, n) "
    "WHERE j.queue = %s AND j.id = v.id AND j.state = 'active' "
    "AND j.worker = %s AND j.stalled_count = v.stalled"
)
# Outcomes. Each takes per-job arrays, then (ids, stalled, queue, worker) for the guard.
_COMPLETE = (
    "UPDATE {s}.job j SET state = 'completed', output = (%b::text[])[v.n]::jsonb, "
    "completed_on = now(), lease_until = NULL " + _GUARD
)
# The hot path: record completions and lease the next batch in ONE statement (rows
# found by primary key). Params: outputs, ids, queue, ids, worker, stalled, ids, and
# then the fetch's.
_COMPLETE_FETCH = (
    "WITH done AS (UPDATE {s}.job j SET state = 'completed', completed_on = now(), "
    "output = (%b::text[])[array_position(%b::text[], j.id)]::jsonb, "
    "lease_until = NULL WHERE j.queue = %s AND j.id = ANY(%b::text[]) "
    "AND j.state = 'active' AND j.worker = %s "
    "AND j.stalled_count = (%b::int[])[array_position(%b::text[], j.id)]) "
) + _FETCH
# Same, for the commonest batch: no results, no job that stalled before.
# Params: queue, ids, worker, then the fetch's.
_COMPLETE_PLAIN_FETCH = (
    "WITH done AS (UPDATE {s}.job j SET state = 'completed', completed_on = now(), "
    "lease_until = NULL WHERE j.queue = %s AND j.id = ANY(%b::text[]) "
    "AND j.state = 'active' AND j.worker = %s AND j.stalled_count = 0) "
) + _FETCH
_COMPLETE_DELETE = (
    "DELETE FROM {s}.job j USING unnest(%b::text[], %b::int[]) AS v(id, stalled) "
    "WHERE j.queue = %s AND j.id = v.id AND j.state = 'active' "
    "AND j.worker = %s AND j.stalled_count = v.stalled"
)
# A job an operator asked to cancel never runs again: where it would go back to the queue it
# ends cancelled instead (retry, give back, recovery).
_OR_CANCELLED = "CASE WHEN j.cancel_requested THEN 'cancelled' ELSE "
_RETRY = (
    "UPDATE {s}.job j SET state = (" + _OR_CANCELLED + "'retry' END)::{s}.job_state, "
    "retry_count = j.retry_count + 1, error = (%b::text[])[v.n]::jsonb, "
    "start_after = now() + make_interval(secs => (%b::float8[])[v.n]), "
    "completed_on = CASE WHEN j.cancel_requested THEN now() END, lease_until = NULL " + _GUARD
)
# The job ended without retry: discarded (its own choice) or cancelled (an operator's), each
# with its state. The attempt counts (retry_count) like a failed one.
_END = (
    "UPDATE {s}.job j SET state = (%b::text[])[v.n]::{s}.job_state, "
    "error = (%b::text[])[v.n]::jsonb, retry_count = j.retry_count + 1, "
    "completed_on = now(), lease_until = NULL " + _GUARD
)
# Final failure and its dead-letter copy, in one statement (so one transaction). The copy
# keeps the job's meta (its trace context) for a redrive.
_FAIL = (
    "WITH f AS (UPDATE {s}.job j SET state = 'failed', retry_count = j.retry_count + 1, "
    "error = (%b::text[])[v.n]::jsonb, completed_on = now(), lease_until = NULL "
    + _GUARD
    + " RETURNING j.queue, j.id, j.data, j.priority, j.meta, (%b::text[])[v.n] AS dlq), "
    "ins AS (INSERT INTO {s}.job (queue, id, data, priority, dead_letter_of, meta) "
    "SELECT dlq, id, data, priority, queue, meta FROM f WHERE dlq IS NOT NULL "
    "ON CONFLICT (queue, id) DO NOTHING RETURNING queue) "
    "SELECT pg_notify(%s, q) FROM (SELECT DISTINCT queue AS q FROM ins) x"
)
_DELETE_FAILED = (
    "DELETE FROM {s}.job WHERE queue = %s AND id = ANY(%b::text[]) "
    "AND state IN ('failed', 'discarded', 'cancelled')"
)
# Give back leased jobs not finished (stop): not counted as a stall or an attempt.
_GIVE_BACK = (
    "UPDATE {s}.job j SET state = (" + _OR_CANCELLED + "CASE WHEN j.retry_count > 0 "
    "THEN 'retry' ELSE 'created' END END)::{s}.job_state, "
    "retry_count = j.retry_count + j.cancel_requested::int, "
    "completed_on = CASE WHEN j.cancel_requested THEN now() END, lease_until = NULL " + _GUARD
)
# Renew leases; answers which of the jobs an operator asked to cancel.
_HEARTBEAT = (
    "UPDATE {s}.job j SET lease_until = now() + make_interval(secs => %s) "
    + _GUARD
    + " RETURNING j.id, j.cancel_requested"
)
_PROGRESS = (
    "UPDATE {s}.job SET progress = %s::text::jsonb "
    "WHERE queue = %s AND id = %s AND state = 'active'"
)
# Expired leases, and active rows with no lease at all (written by something else): back to
# retry, or failed (with its dead-letter copy) past the queue's max_stalled_count, for several
# queues at once. Params: queues, max_stalled counts.
_RECOVER = (
    "WITH w AS (SELECT * FROM unnest(%b::text[], %b::int[]) AS w(queue, lim)), "
    "x AS (SELECT j.queue, j.id, w.lim FROM {s}.job j JOIN w ON j.queue = w.queue "
    "  WHERE j.state = 'active' AND (j.lease_until < now() OR j.lease_until IS NULL) "
    "  FOR UPDATE OF j SKIP LOCKED), "
    "u AS (UPDATE {s}.job j SET stalled_count = j.stalled_count + 1, "
    "  state = (" + _OR_CANCELLED + "CASE WHEN j.stalled_count + 1 > x.lim THEN 'failed' "
    "  ELSE 'retry' END END)::{s}.job_state, "
    "  error = CASE WHEN j.stalled_count + 1 > x.lim THEN jsonb_build_object("
    "    'type', 'JobStalled', 'message', "
    "    'the job''s lease expired more than ' || x.lim || ' time(s)') ELSE j.error END, "
    "  completed_on = CASE WHEN j.stalled_count + 1 > x.lim OR j.cancel_requested "
    "  THEN now() END, start_after = now(), lease_until = NULL "
    "  FROM x WHERE j.queue = x.queue AND j.id = x.id "
    "  RETURNING j.queue, j.id, j.state, j.data, j.priority, j.dead_letter, j.meta), "
    "ins AS (INSERT INTO {s}.job (queue, id, data, priority, dead_letter_of, meta) "
    "  SELECT dead_letter, id, data, priority, queue, meta FROM u "
    "  WHERE state = 'failed' AND dead_letter IS NOT NULL "
    "  ON CONFLICT (queue, id) DO NOTHING RETURNING queue) "
    "SELECT u.queue, u.id, u.state::text, (SELECT count(*) FROM ins) FROM u"
)
# Delete finished rows of one state that finished before the cutoff (None: any time), all but
# the newest ``keep`` of them: retention and ``clean``. Params: queue, state, age (s or
# None), age, keep (0: keep none).
_CLEAN = (
    "DELETE FROM {s}.job WHERE ctid IN (SELECT ctid FROM {s}.job "
    "WHERE queue = %s AND state > 'active' AND state = %s::text::{s}.job_state "
    "AND (%s::float8 IS NULL OR completed_on < now() - make_interval(secs => %s)) "
    "ORDER BY completed_on DESC, id DESC OFFSET %s)"
)
# When each queue's next delayed job is due, in seconds from now. Params: queues.
_NEXT_DUE = (
    "SELECT w.queue, (SELECT extract(epoch FROM min(start_after) - now())::float8 "
    "  FROM {s}.job WHERE queue = w.queue AND state < 'active' "
    "  AND (state = 'retry' OR start_after > created_on)) "
    "FROM unnest(%b::text[]) AS w(queue)"
)

_TEMPLATES: dict[str, LiteralString] = {
    "insert_notify": _INSERT_NOTIFY,
    "insert_many": _INSERT_MANY,
    "get": _GET,
    "fetch": _FETCH,
    "fetch_many": _FETCH_MANY,
    "complete": _COMPLETE,
    "complete_fetch": _COMPLETE_FETCH,
    "complete_plain_fetch": _COMPLETE_PLAIN_FETCH,
    "complete_delete": _COMPLETE_DELETE,
    "retry": _RETRY,
    "end": _END,
    "fail": _FAIL,
    "delete_failed": _DELETE_FAILED,
    "give_back": _GIVE_BACK,
    "heartbeat": _HEARTBEAT,
    "progress": _PROGRESS,
    "recover": _RECOVER,
    "clean": _CLEAN,
    "next_due": _NEXT_DUE,
}


class Statements:
    """Every statement for one schema, rendered once: psycopg then caches each parsed query by
    its text, where a Composed would be rendered again on every execute. Made of literals and
    the validated schema, quoted as an identifier."""

    insert_notify: LiteralString
    insert_many: LiteralString
    get: LiteralString
    fetch: LiteralString
    fetch_many: LiteralString
    complete: LiteralString
    complete_fetch: LiteralString
    complete_plain_fetch: LiteralString
    complete_delete: LiteralString
    retry: LiteralString
    end: LiteralString
    fail: LiteralString
    delete_failed: LiteralString
    give_back: LiteralString
    heartbeat: LiteralString
    progress: LiteralString
    recover: LiteralString
    clean: LiteralString
    next_due: LiteralString
    # the operator API's (ops_sql)
    counts: LiteralString
    oldest_waiting: LiteralString
    list_waiting: LiteralString
    list_delayed: LiteralString
    list_active: LiteralString
    list_finished: LiteralString
    cancel_job: LiteralString
    retry_job: LiteralString
    retry_failed: LiteralString
    set_paused: LiteralString
    is_paused: LiteralString
    paused_of: LiteralString
    dead_letters: LiteralString
    redrive: LiteralString
    beat: LiteralString
    forget: LiteralString
    workers: LiteralString
    notify: ClassVar[LiteralString] = "SELECT pg_notify(%s, %s)"
    waiters: ClassVar[LiteralString] = (
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = %s)"
    )

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.new_channel, self.done_channel = channels(schema)
        self.waiter_app = waiter_app_name(schema)
        s = sql.Identifier(schema)
        for name, template in {**_TEMPLATES, **OPS_TEMPLATES}.items():
            setattr(self, name, sql.SQL(template).format(s=s).as_string())

"""How the PostgreSQL consumer stores outcomes: one round = finished outcomes + the next lease.

In autocommit pipeline mode every statement up to the sync runs in one implicit transaction:
the completions, retries, failures (with their dead-letter copies), retention, the lease of the
next batch and the NOTIFY for waiters commit together, in one round trip. A batch of plain
completions (the common case) goes as ONE statement that completes and leases. Completed ->
``completed`` with ``output``; Retry -> ``retry`` with ``start_after``; Failed -> ``failed``
and a dead-letter copy; Discarded -> ``discarded``; Cancelled (an operator's cancel, seen by
the running job) -> ``cancelled``; no outcome (stop) -> given back untouched.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import psycopg

from qgen.runtime.backends.base import Cancelled, Completed, Discarded, ErrorInfo, Failed, Retry
from qgen.runtime.backends.lanes import Done
from qgen.runtime.backends.postgres.jobs import PgJob, dumps
from qgen.runtime.backends.postgres.sql import Statements
from qgen.runtime.backends.postgres.transport import CONNECTION_ERRORS
from qgen.runtime.config_keys import MAX_DELAY_S
from qgen.runtime.settings import QueueSettings, Retention

log = logging.getLogger("qgen.postgres")
_NULL = "null"
_REPLACE = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates
NOTIFY_LIMIT = 7900  # bytes of a NOTIFY payload (the server's limit is 8000)
_FAILED_STATES = ("failed", "discarded", "cancelled")
SMALL_RETENTION = 100  # keep counts up to this are enforced every round, larger ones each second


def _text(value: str | None) -> str | None:
    """Text jsonb can store: no NUL, no lone surrogate (each becomes U+FFFD)."""
    if value is None:
        return None
    return _UNSTORABLE.sub(_REPLACE, value)


def _error_json(err: ErrorInfo) -> str:
    # an error text must never make its own outcome unstorable
    return dumps({k: _text(v) for k, v in err.to_json().items()})


def result_json(value: Any) -> tuple[str, None] | tuple[None, str]:
    """(the JSON text jsonb stores, None), or (None, why it cannot be stored)."""
    if value is None:
        return _NULL, None
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError, UnicodeError) as exc:
        return None, f"the result is not storable JSON: {type(exc).__name__}: {exc}"[:500]
    if "\\u0000" in text:
        return None, "the result contains a NUL character"
    return text, None


def retry_delay(delay: float) -> float:
    """A retry delay every PostgreSQL interval holds (NaN: now)."""
    delay = float(delay)
    return min(max(0.0, delay), float(MAX_DELAY_S)) if delay == delay else 0.0


def _push(arrays: tuple[list[Any], ...], h: PgJob, *values: Any) -> None:
    arrays[0].append(h.id)
    arrays[1].append(h.stalled)
    for arr, v in zip(arrays[2:], values, strict=True):
        arr.append(v)


class RoundPlan:
    def __init__(
        self,
        st: Statements,
        settings: QueueSettings,
        worker: str,
        batch: Sequence[Done[PgJob]],
        notify_done: bool = True,
        wildcard: bool = False,
    ) -> None:
        self.st, self.settings, self.queue, self.worker = st, settings, settings.name, worker
        self.visibility = settings.visibility_timeout
        self.kept_done, self.kept_failed = settings.completed_retention, settings.failed_retention
        self.keep_done, self.keep_failed = self.kept_done.count, self.kept_failed.count
        self.notify_done = notify_done
        self.wildcard = wildcard
        self.batch = batch
        self.retry_delays: list[float] = []
        self.retain_groups = (False, False)  # retention to apply (set by the consumer)
        self.plain = False  # the hot batch has no results and no job that stalled before
        self.hot_batch: tuple[list[str], list[str], list[int]] | None = None  # all completed
        if batch and all(type(o) is Completed for _, o in batch):
            texts = [result_json(o.result)[0] for _, o in batch]  # type: ignore[union-attr]
            outputs = [t for t in texts if t is not None]
            if len(outputs) == len(texts):
                ids = [h.id for h, _ in batch]
                stalled = [h.stalled for h, _ in batch]
                self.hot_batch = (outputs, ids, stalled)
                self.plain = not any(stalled) and all(o is _NULL for o in outputs)
                self.finished_ids = ids
                self.any_done, self.any_failed = True, False
                return
        self._group()

    def _group(self) -> None:
        # per outcome kind: parallel arrays (ids, stall counts, then the kind's own values)
        done: tuple[list[Any], ...] = ([], [], [])
        retry: tuple[list[Any], ...] = ([], [], [], [])
        failed: tuple[list[Any], ...] = ([], [], [], [])
        end: tuple[list[Any], ...] = ([], [], [], [])  # discarded or cancelled
        back: tuple[list[Any], ...] = ([], [])
        for h, o in self.batch:
            if isinstance(o, Completed):
                text, problem = result_json(o.result)
                if text is not None:
                    _push(done, h, text)
                    continue
                # jsonb cannot store it: fail the job, not the whole round
                o = Failed(ErrorInfo("ResultNotStorable", str(problem)), None)
            if isinstance(o, Retry):
                delay = retry_delay(o.delay)
                _push(retry, h, _error_json(o.error), delay)
                self.retry_delays.append(delay)
            elif isinstance(o, Failed):
                _push(failed, h, _error_json(o.error), o.dead_letter or h.dead_letter)
            elif isinstance(o, Discarded):
                _push(end, h, "discarded", _error_json(ErrorInfo("Discarded", o.reason)))
            elif isinstance(o, Cancelled):
                _push(end, h, "cancelled", _error_json(ErrorInfo("Cancelled", o.reason)))
            else:
                _push(back, h)
        self.done, self.retry, self.failed, self.end, self.back = done, retry, failed, end, back
        self.finished_ids = done[0] + failed[0] + end[0]
        self.any_done = bool(done[0])
        self.any_failed = bool(failed[0] or end[0])

    def touched(self) -> tuple[bool, bool]:
        """Per retention group (completed; failed, discarded and cancelled): did this round
        finish jobs into it, and does the queue limit what it keeps?"""
        return (
            self.any_done and not self.kept_done.keeps_all,
            self.any_failed and not self.kept_failed.keeps_all,
        )

    def small(self) -> tuple[bool, bool]:
        """Per group: a count this small (no age) is kept every round, else once a second."""
        return _small(self.kept_done), _small(self.kept_failed)

    def _retention(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """``clean`` statements of the groups in ``retain_groups`` (count and age applied per
        state, as BullMQ's KeepJobs)."""
        out: list[tuple[Any, tuple[Any, ...]]] = []
        groups = [(self.kept_done, ("completed",)), (self.kept_failed, _FAILED_STATES)]
        for (kept, states), wanted in zip(groups, self.retain_groups, strict=True):
            if not wanted or kept.keeps_all:
                continue
            for state in states:
                if kept.age is not None:
                    out.append((self.st.clean, (self.queue, state, kept.age, kept.age, 0)))
                if kept.count:
                    out.append((self.st.clean, (self.queue, state, None, None, kept.count)))
        return out

    def statements(self, retain: bool) -> list[tuple[Any, tuple[Any, ...]]]:
        if self.hot_batch is not None and not hasattr(self, "done"):
            self._group()
        st, q, w = self.st, self.queue, self.worker
        out: list[tuple[Any, tuple[Any, ...]]] = []
        ids, stalled, outputs = self.done
        if ids:
            if self.keep_done == 0:
                out.append((st.complete_delete, (ids, stalled, q, w)))
            else:
                out.append((st.complete, (outputs, ids, stalled, q, w)))
        ids, stalled, errs, delays = self.retry
        if ids:
            out.append((st.retry, (errs, delays, ids, stalled, q, w)))
        ids, stalled, errs, dlqs = self.failed
        if ids:
            out.append((st.fail, (errs, ids, stalled, q, w, dlqs, st.new_channel)))
            if self.keep_failed == 0:
                out.append((st.delete_failed, (q, ids)))
        ids, stalled, states, errs = self.end
        if ids:
            out.append((st.end, (states, errs, ids, stalled, q, w)))
            if self.keep_failed == 0:
                out.append((st.delete_failed, (q, ids)))
        ids, stalled = self.back
        if ids:
            out.append((st.give_back, (ids, stalled, q, w)))
        if retain:
            out += self._retention()
        if self.wildcard:
            out.append((st.notify, (st.done_channel, q + "\n*")))
        elif self.finished_ids and self.notify_done:
            payload = q + "\n" + ",".join(self.finished_ids)
            if len(payload.encode()) > NOTIFY_LIMIT:
                payload = q + "\n*"
            out.append((st.notify, (st.done_channel, payload)))
        return out

    async def send(
        self, conn: psycopg.AsyncConnection[Any], fetch_n: int, retain: bool, suspects: bool
    ) -> list[tuple[Any, ...]]:
        """Apply the outcomes and lease up to ``fetch_n`` jobs in one transaction; jobs that
        stalled before only if ``suspects``."""
        q = self.queue
        fetch = (self.st.fetch, (self.worker, self.visibility, q, q, suspects, fetch_n))
        quiet = not (retain or self.notify_done or self.wildcard)
        if fetch_n and quiet and self.hot_batch is not None and self.keep_done != 0:
            # the hot path: one statement, no pipeline
            outputs, ids, stalled = self.hot_batch
            w = self.worker
            params: tuple[Any, ...]
            if self.plain:
                stmt, params = self.st.complete_plain_fetch, (q, ids, w, *fetch[1])
            else:
                stmt, params = (
                    self.st.complete_fetch,
                    (outputs, ids, q, ids, w, stalled, ids, *fetch[1]),
                )
            cur = await conn.execute(stmt, params)
            return await cur.fetchall()
        stmts = self.statements(retain)
        if not stmts:
            if not fetch_n:
                return []
            cur = await conn.execute(*fetch)
            return await cur.fetchall()
        async with conn.pipeline():
            for stmt, params in stmts:
                await conn.execute(stmt, params)
            fcur = await conn.execute(*fetch) if fetch_n else None
        return await fcur.fetchall() if fcur is not None else []


def _small(kept: Retention) -> bool:
    return kept.age is None and (kept.count or 0) <= SMALL_RETENTION


Rows = list[tuple[Any, ...]]


async def send_group(
    conn: psycopg.AsyncConnection[Any],
    st: Statements,
    worker: str,
    rounds: Sequence[tuple[RoundPlan, int, bool]],
    suspects: bool,
) -> list[Rows]:
    """One round for several queues: each ``(plan, fetch_n, retain)`` records its outcomes,
    and one statement leases for every queue that fetches. Rows per round, in order."""
    if len(rounds) == 1:
        plan, fetch_n, retain = rounds[0]
        return [await plan.send(conn, fetch_n, retain, suspects)]
    stmts = [stmt for plan, _, retain in rounds for stmt in plan.statements(retain)]
    fetching = [(plan, n) for plan, n, _ in rounds if n]
    fcur = None
    async with conn.pipeline():
        for stmt, params in stmts:
            await conn.execute(stmt, params)
        if fetching:
            queues = [plan.queue for plan, _ in fetching]
            limits = [n for _, n in fetching]
            leases = [plan.visibility for plan, _ in fetching]
            params = (worker, queues, limits, leases, suspects)
            fcur = await conn.execute(st.fetch_many, params)
    by_queue: dict[str, Rows] = {}
    for row in await fcur.fetchall() if fcur is not None else []:
        by_queue.setdefault(row[10], []).append(row)
    return [by_queue.get(plan.queue, []) if n else [] for plan, n, _ in rounds]


async def record_alone(conn: psycopg.AsyncConnection[Any], plan: RoundPlan, notify: bool) -> None:
    """A round failed, not for the connection: record each outcome of ``plan`` in its own
    transaction; one the server refuses fails its job with that reason instead. If even that
    is refused, the fault is not the job's: raise, and the round is tried again."""
    settings, st, worker = plan.settings, plan.st, plan.worker

    async def record(done: Done[PgJob]) -> None:
        await RoundPlan(st, settings, worker, [done], notify).send(conn, 0, False, False)

    for job, outcome in plan.batch:
        try:
            await record((job, outcome))
        except CONNECTION_ERRORS:
            raise
        except Exception as refused:
            if outcome is None:
                raise
            reason = " ".join(str(refused).split())[:500] or type(refused).__name__
            error = ErrorInfo(
                "OutcomeNotStorable",
                f"its {type(outcome).__name__} outcome could not be stored: {reason}",
            )
            await record((job, Failed(error, None)))
            log.error(
                "job %s: %s", job.id, error.message, extra={"queue": plan.queue, "job_id": job.id}
            )

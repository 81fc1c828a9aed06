"""How the SQLite consumer stores outcomes: planned outside the write lock, applied inside it.

:func:`plan` turns the outcomes that arrived since the last round into parameter rows (pure
Python, no lock held); :func:`apply` runs them inside the round's transaction, as a handful of
``executemany`` calls, each guarded by the job's lease. Completed -> ``completed`` with the
result (or deleted when the queue keeps none); Retry -> ``delayed``/``waiting`` with
``start_after`` after the runner's delay; Failed -> ``failed`` plus a waiting copy in the
dead-letter queue; Discarded -> ``discarded``; Cancelled (an operator's cancel, seen by the
running job) -> ``cancelled``; no outcome (stop) -> the lease is given back. A job an operator
asked to cancel that is retried or given back ends ``cancelled`` instead (in the SQL).

Retention (:class:`Retainer`) runs in the same transactions: see its docstring.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qgen.runtime.backends.base import (
    Cancelled,
    Completed,
    Discarded,
    ErrorInfo,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.backends.lanes import Done
from qgen.runtime.backends.sqlite import sql
from qgen.runtime.backends.sqlite.jobs import SqliteJob, dumps
from qgen.runtime.config_keys import MAX_DELAY_S
from qgen.runtime.settings import QueueSettings, Retention

log = logging.getLogger("qgen.sqlite")

_STRICT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
FAILED_STATES = ("failed", "discarded", "cancelled")
TRIM_EVERY = 0.2  # s between two trims of a queue's finished rows while jobs keep finishing
TRIM_STEP = 2_000  # rows one trim statement deletes at most; more: the next round goes on
SMALL_RETENTION = 100  # a count this small (and no age) is kept exactly, every round


@dataclass(slots=True)
class Plan:
    finish: list[tuple[str, str | None, str | None, float, int, str]] = field(default_factory=list)
    delete: list[tuple[int, str]] = field(default_factory=list)
    retry: list[tuple[str, str, float, int, str]] = field(default_factory=list)
    release: list[tuple[int, str]] = field(default_factory=list)
    dead: list[tuple[str, int, str, int]] = field(default_factory=list)  # target, seq, lease, att.
    count: int = 0
    now: float = 0.0


def _result(out: Completed) -> tuple[str | None, Outcome]:
    """The result's JSON text, or None and the outcome that fails the job instead (a result
    JSON cannot hold, such as NaN, must not fail the whole round)."""
    if out.result is None:
        return "null", out
    try:
        return _STRICT(out.result), out
    except (ValueError, TypeError, RecursionError) as exc:
        why = f"the result is not storable JSON: {type(exc).__name__}: {exc}"[:500]
        return None, Failed(ErrorInfo("ResultNotStorable", why), None)


def plan(
    settings: QueueSettings,
    done: list[Done[SqliteJob]],
    attempts_of: Callable[[str], int],
    now: float,
    into: Plan,
) -> tuple[int, int]:
    """Add the rows that store ``done`` (one queue's outcomes) to ``into``; returns how many
    rows finished into each retention group (completed; failed, discarded and cancelled)."""
    p = into
    p.count += len(done)
    drop_completed = settings.completed_retention.count == 0
    drop_failed = settings.failed_retention.count == 0
    touched = [0, 0]
    for job, out in done:
        if type(out) is Completed:  # the common case first
            text, out = _result(out)
            if text is not None:
                if drop_completed:
                    p.delete.append((job.seq, job.lease))
                else:
                    p.finish.append(("completed", text, None, now, job.seq, job.lease))
                    touched[0] += 1
                continue
        if out is None:
            p.release.append((job.seq, job.lease))
            continue
        if isinstance(out, Retry):
            state = "delayed" if out.delay > 0 else "waiting"
            start = now + min(max(0.0, out.delay), float(MAX_DELAY_S))
            p.retry.append((state, dumps(out.error.to_json()), start, job.seq, job.lease))
            continue
        state, error = _ended(out)
        if isinstance(out, Failed) and out.dead_letter:
            target = out.dead_letter
            p.dead.append((target, job.seq, job.lease, attempts_of(target)))
        if drop_failed:
            p.delete.append((job.seq, job.lease))
        else:
            p.finish.append((state, None, error, now, job.seq, job.lease))
            touched[1] += 1
    return touched[0], touched[1]


def _ended(out: Outcome) -> tuple[str, str]:
    """State and error JSON of a failed, discarded or cancelled job."""
    if isinstance(out, Failed):
        return "failed", dumps(out.error.to_json())
    if isinstance(out, Cancelled):
        return "cancelled", dumps(ErrorInfo("Cancelled", out.reason).to_json())
    assert isinstance(out, Discarded), out
    return "discarded", dumps(ErrorInfo("Discarded", out.reason).to_json())


def apply(c: sqlite3.Connection, p: Plan) -> None:
    """Inside the round's write transaction. Dead-letter copies first: they read the failed
    row while it still carries the lease that guards them."""
    for target, seq, lease, attempts in p.dead:
        sql.dead_letter_copy(c, target, seq, lease, attempts, p.now)
    changed = 0
    if p.finish:
        changed += sql.finish(c, p.finish)
    if p.delete:
        changed += sql.delete_leased(c, p.delete)
    if p.retry:
        changed += sql.retry(c, p.now, p.retry)
    if p.release:
        changed += sql.release(c, p.now, p.release)
    if changed < p.count:
        log.warning(
            "%d outcome(s) not recorded: their lease expired and the job was taken over",
            p.count - changed,
        )


class Retainer:
    """One queue's retention (``remove_on_complete`` / ``remove_on_fail``, defaults included):
    which groups of finished rows to trim, and when.

    A group is *owed* a trim once jobs finished into it (and once at start, for rows left from
    before). An owed trim runs inside the next round's transaction once a tenth of the kept
    count finished since the last trim, or ``TRIM_EVERY`` s passed (every round for a count up
    to ``SMALL_RETENTION`` without an age, so that it holds exactly); so the rows kept exceed
    the count by at most about a tenth at any speed. It deletes everything past the bound
    (older than the age, beyond the count) in indexed statements of at most ``TRIM_STEP`` rows
    each: whatever finished since the last trim goes in one go, and a trim that is behind (a
    step came back full) goes on in the very next round, so each transaction holds the write
    lock briefly and the trim still catches up with any rate of finishing."""

    def __init__(self, settings: QueueSettings) -> None:
        self.queue = settings.name
        self.kept = (settings.completed_retention, settings.failed_retention)
        self.owed = [_limits(k) for k in self.kept]
        self.every = [0.0 if _small(k) else TRIM_EVERY for k in self.kept]
        self.step = [max(1, k.count // 10) if k.count else 1 << 62 for k in self.kept]
        self.pending = [0, 0]  # rows finished into each group since its last trim
        self.behind = [False, False]
        self.last = [-float("inf"), -float("inf")]

    def touch(self, touched: tuple[int, int]) -> None:
        for group, n in enumerate(touched):
            if n and _limits(self.kept[group]):
                self.owed[group] = True
                self.pending[group] += n

    def due(self, now: float) -> tuple[int, ...]:
        """The groups to trim in a round starting now (monotonic)."""
        return tuple(
            g
            for g in (0, 1)
            if self.owed[g]
            and (
                self.behind[g]
                or self.pending[g] >= self.step[g]
                or now - self.last[g] >= self.every[g]
            )
        )

    def next_due(self) -> float:
        """Monotonic time the next owed trim is due (inf: none owed)."""
        times = [
            -float("inf")
            if self.behind[g] or self.pending[g] >= self.step[g]
            else self.last[g] + self.every[g]
            for g in (0, 1)
            if self.owed[g]
        ]
        return min(times, default=float("inf"))

    def trim(self, c: sqlite3.Connection, groups: tuple[int, ...]) -> list[tuple[int, bool]]:
        """Inside a write transaction: one step of each group's trim; (group, still behind)."""
        wall = time.time()
        out = []
        for g in groups:
            kept = self.kept[g]
            before = None if kept.age is None else wall - kept.age
            full = False
            for state in ("completed",) if g == 0 else FAILED_STATES:
                gone = sql.trim(c, self.queue, state, kept.count, before, TRIM_STEP)
                full = full or gone >= TRIM_STEP
            out.append((g, full))
        return out

    def trimmed(self, done: list[tuple[int, bool]], now: float) -> None:
        """After the round committed: record what :meth:`trim` did."""
        for g, full in done:
            self.last[g] = now
            self.behind[g] = full
            self.owed[g] = full
            self.pending[g] = 0


def _limits(kept: Retention) -> bool:
    """Does this retention delete finished rows after the fact (a count above 0 or an age)?"""
    return kept.age is not None or bool(kept.count)


def _small(kept: Retention) -> bool:
    return kept.age is None and (kept.count or 0) <= SMALL_RETENTION

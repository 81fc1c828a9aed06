"""How the SQLite consumer stores outcomes: planned outside the write lock, applied inside it.

:func:`plan` turns the outcomes that arrived since the last round into parameter rows (pure
Python, no lock held); :func:`apply` runs them inside the round's transaction, as a handful of
``executemany`` calls, each guarded by the job's lease. Completed -> ``completed`` with the
result (or deleted, ``remove_on_complete=True``); Retry -> ``delayed``/``waiting`` with
``start_after`` after the runner's delay; Failed -> ``failed`` plus a waiting copy in the
dead-letter queue; Discarded -> ``discarded``; no outcome (stop) -> the lease is given back.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

from qgen.runtime.backends.base import Completed, Discarded, ErrorInfo, Failed, Retry
from qgen.runtime.backends.lanes import Done
from qgen.runtime.backends.sqlite import sql
from qgen.runtime.backends.sqlite.jobs import SqliteJob, dumps
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.sqlite")


@dataclass(slots=True)
class Plan:
    finish: list[tuple[str, str | None, str | None, float, int, str]] = field(default_factory=list)
    delete: list[tuple[int, str]] = field(default_factory=list)
    retry: list[tuple[str, str, float, int, str]] = field(default_factory=list)
    release: list[tuple[int, str]] = field(default_factory=list)
    dead: list[tuple[str, int, str, int]] = field(default_factory=list)  # target, seq, lease, att.
    trims: set[tuple[str, str, int]] = field(default_factory=set)
    count: int = 0
    now: float = 0.0


def plan(
    settings: QueueSettings,
    done: list[Done[SqliteJob]],
    attempts_of: Callable[[str], int],
    now: float,
    into: Plan,
) -> None:
    """Add the rows that store ``done`` (one queue's outcomes) to ``into``."""
    p = into
    p.count += len(done)
    queue = settings.name
    keep_completed, keep_failed = settings.keep_completed, settings.keep_failed
    for job, out in done:
        if type(out) is Completed:  # the common case first
            if keep_completed == 0:
                p.delete.append((job.seq, job.lease))
                continue
            result = "null" if out.result is None else dumps(out.result)
            p.finish.append(("completed", result, None, now, job.seq, job.lease))
            if keep_completed is not None:
                p.trims.add((queue, "completed", keep_completed))
            continue
        if out is None:
            p.release.append((job.seq, job.lease))
            continue
        if isinstance(out, Retry):
            state = "delayed" if out.delay > 0 else "waiting"
            start = now + max(0.0, out.delay)
            p.retry.append((state, dumps(out.error.to_json()), start, job.seq, job.lease))
            continue
        if isinstance(out, Failed):
            state, error = "failed", dumps(out.error.to_json())
            if out.dead_letter:
                target = out.dead_letter
                p.dead.append((target, job.seq, job.lease, attempts_of(target)))
        else:
            assert isinstance(out, Discarded)
            state = "discarded"
            error = dumps(ErrorInfo("Discarded", out.reason).to_json())
        if keep_failed == 0:
            p.delete.append((job.seq, job.lease))
        else:
            p.finish.append((state, None, error, now, job.seq, job.lease))
            if keep_failed is not None:
                p.trims.add((queue, state, keep_failed))


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
        changed += sql.retry(c, p.retry)
    if p.release:
        changed += sql.release(c, p.release)
    if changed < p.count:
        log.warning(
            "%d outcome(s) not recorded: their lease expired and the job was taken over",
            p.count - changed,
        )
    for queue, state, keep in p.trims:
        sql.trim(c, queue, state, keep)

"""What the SQLite consumer writes for a batch of outcomes, planned outside the write lock.

:func:`plan` turns the outcomes that arrived since the last round into parameter rows (pure
Python, no lock held); :func:`apply` runs them inside the round's transaction, as a handful of
``executemany`` calls, each guarded by the job's lease.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from qgen.runtime.backends import sqlite_db as db
from qgen.runtime.backends.base import (
    Completed,
    Discarded,
    ErrorInfo,
    Failed,
    Outcome,
    QueueSettings,
    Retry,
)

log = logging.getLogger("qgen.sqlite")

DEFAULT_POLL_MS = 100
DEFAULT_VISIBILITY_S = 30.0
DEFAULT_MAX_STALLED = 1


@dataclass(frozen=True, slots=True)
class QueueRules:
    name: str
    concurrency: int
    prefetch: int
    poll: float  # s
    visibility: float  # s
    max_stalled: int
    keep_completed: int | None  # None: keep all
    keep_failed: int | None
    dead_letter: str | None

    @classmethod
    def of(cls, s: QueueSettings) -> QueueRules:
        c = s.config
        return cls(
            name=s.name,
            concurrency=max(1, s.concurrency),
            prefetch=max(1, s.prefetch),
            poll=float(c.get("poll_interval", DEFAULT_POLL_MS)) / 1000.0,
            visibility=float(c.get("visibility_timeout", DEFAULT_VISIBILITY_S)),
            max_stalled=int(c.get("max_stalled_count", DEFAULT_MAX_STALLED)),
            keep_completed=_keep(c.get("remove_on_complete")),
            keep_failed=_keep(c.get("remove_on_fail")),
            dead_letter=c.get("dead_letter"),
        )

    @property
    def capacity(self) -> int:
        """Jobs this process may hold leased at once: ``batch_size`` running plus ``prefetch``
        leased ahead, which start as soon as a slot frees without waiting for a round."""
        return self.concurrency + self.prefetch


def _keep(value: object) -> int | None:
    if value is None or value is False:
        return None
    if value is True:
        return 0
    return max(0, int(str(value)))


# A recorded outcome: (job, outcome), or (job, None) to give the lease back untouched.
Done = tuple[db.Leased, Outcome | None]


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
    done: list[Done],
    rules: Mapping[str, QueueRules],
    max_attempts: Callable[[str], int],
    now: float,
) -> Plan:
    p = Plan(count=len(done), now=now)
    for job, out in done:
        r = rules.get(job.queue)
        if type(out) is Completed:  # the common case first
            keep = r.keep_completed if r else None
            if keep == 0:
                p.delete.append((job.seq, job.lease))
                continue
            result = "null" if out.result is None else db.dumps(out.result)
            p.finish.append(("completed", result, None, now, job.seq, job.lease))
            if keep is not None:
                p.trims.add((job.queue, "completed", keep))
            continue
        if out is None:
            p.release.append((job.seq, job.lease))
            continue
        if isinstance(out, Retry):
            state = "delayed" if out.delay > 0 else "waiting"
            start = now + max(0.0, out.delay)
            p.retry.append((state, db.dumps(out.error.to_json()), start, job.seq, job.lease))
            continue
        keep = r.keep_failed if r else None
        if isinstance(out, Failed):
            state, error = "failed", db.dumps(out.error.to_json())
            if out.dead_letter:
                target = out.dead_letter
                p.dead.append((target, job.seq, job.lease, max_attempts(target)))
        else:
            assert isinstance(out, Discarded)
            state = "discarded"
            error = db.dumps(ErrorInfo("Discarded", out.reason).to_json())
        if keep == 0:
            p.delete.append((job.seq, job.lease))
        else:
            p.finish.append((state, None, error, now, job.seq, job.lease))
            if keep is not None:
                p.trims.add((job.queue, state, keep))
    return p


def apply(c: sqlite3.Connection, p: Plan) -> None:
    """Inside the round's write transaction. Dead-letter copies first: they read the failed
    row while it still carries the lease that guards them."""
    for target, seq, lease, attempts in p.dead:
        db.dead_letter_copy(c, target, seq, lease, attempts, p.now)
    changed = 0
    if p.finish:
        changed += db.finish(c, p.finish)
    if p.delete:
        changed += db.delete_leased(c, p.delete)
    if p.retry:
        changed += db.retry(c, p.retry)
    if p.release:
        changed += db.release(c, p.release)
    if changed < p.count:
        log.warning(
            "%d outcome(s) not recorded: their lease expired and the job was taken over",
            p.count - changed,
        )
    for queue, state, keep in p.trims:
        db.trim(c, queue, state, keep)

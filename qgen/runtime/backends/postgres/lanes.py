"""The PostgreSQL consumer's per-queue state (:class:`PgLane`), the loops that serve several
queues over one connection (:class:`RoundLoop`), and one queue's part of a round."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import psycopg

from qgen.runtime.backends.lanes import Lane
from qgen.runtime.backends.postgres.jobs import PgJob
from qgen.runtime.backends.postgres.outcomes import RoundPlan
from qgen.runtime.settings import QueueSettings


class PgLane(Lane[PgJob]):
    def __init__(self, settings: QueueSettings, wake: asyncio.Event) -> None:
        super().__init__(settings, wake)
        self.timed = True  # avg_run decides how far ahead to lease
        self.poll = settings.poll_interval / 1000.0
        self.loop: RoundLoop | None = None  # the loop (and connection) serving this lane
        self.leased: list[tuple[Any, ...]] = []  # rows of the last round, not yet taken in
        self.notified = True  # fetch at start
        self.empty = False  # the last fetch found fewer jobs than asked
        self.due: float | None = None  # monotonic time the next known delayed job is ready
        self.last_fetch = 0.0
        # per retention group (completed; failed, discarded, cancelled): when it last ran,
        # and whether a round held it back (its once-a-second pace): a later round owes it
        self.last_retain = [0.0, 0.0]
        self.retain_owed = [False, False]
        self.wildcard = False  # a waiter appeared: tell waiters to look again, once
        self.want = 0  # jobs the loop would lease now (its idle wait depends on it)


class RoundLoop:
    """Lanes served by one connection, one round trip per round."""

    def __init__(self, lanes: list[PgLane]) -> None:
        self.lanes = lanes
        self.conn: psycopg.AsyncConnection[Any] | None = None


@dataclass(slots=True)
class LaneRound:
    """One lane's part of a round."""

    lane: PgLane
    plan: RoundPlan
    fetch_n: int
    retain: bool
    notified: bool  # the lane had been notified (restored if the round fails)
    wildcard: bool

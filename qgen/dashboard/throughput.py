"""Throughput over the last minutes, from the finish times of the newest finished jobs.

Counts alone cannot give it: retention keeps a bounded number of finished jobs (1,000
completed by default), so on a busy queue the completed count stands still while jobs
finish. Instead each queue's newest finished jobs (at most :data:`SAMPLE` per status, one
indexed page of the operator API's listing) are put into buckets by their finish time. When
a listing has more jobs than that, the buckets older than the oldest job read are unknown
(drawn as gaps), never guessed. Retention bounds what can be known the same way: a busy queue
keeping its default 1,000 completed jobs shows only the seconds those jobs span. Results are
kept for :data:`CACHE_FOR` seconds, so several open pages cost one listing per queue.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from qgen.dashboard.data import DashboardData

WINDOW = 300.0  # seconds shown
BUCKET = 10.0  # seconds per bar
RATE_OVER = 60.0  # the rate printed beside the chart: jobs per second over the last minute
SAMPLE = 1000  # newest jobs read per finished status: the API's largest page
MIN_SPAN = 1.0  # seconds known before a rate is printed
CACHE_FOR = 4.0
COUNTED = ("completed", "failed", "discarded")  # cancelled jobs did not run to an end


@dataclass(frozen=True, slots=True)
class Throughput:
    """Jobs finished per bucket of :data:`BUCKET` s over the last :data:`WINDOW` s, oldest
    first; None for a bucket older than what the listing reached."""

    buckets: tuple[int | None, ...]
    per_second: float | None  # over the last RATE_OVER s (or the part of it that is known)
    bucket_s: float = BUCKET

    @property
    def peak(self) -> int:
        return max((b for b in self.buckets if b is not None), default=0)

    def to_json(self) -> dict[str, object]:
        return {
            "buckets": list(self.buckets),
            "bucket_seconds": self.bucket_s,
            "per_second": self.per_second,
        }


def bucketed(finished: list[float], known_from: float, now: float) -> Throughput:
    """Throughput from finish times (epoch s) all known after ``known_from``."""
    n = int(WINDOW / BUCKET)
    start = now - WINDOW
    counts = [0] * n
    for when in finished:
        index = math.floor((when - start) / BUCKET)
        if 0 <= index < n:
            counts[index] += 1
        elif index >= n:  # finished "after now": the database's clock is ahead; count it last
            counts[-1] += 1
    buckets = tuple(None if start + i * BUCKET < known_from else c for i, c in enumerate(counts))
    since = max(now - RATE_OVER, known_from)
    span = now - since
    recent = sum(1 for when in finished if when >= since)
    rate = recent / span if span >= MIN_SPAN else None
    return Throughput(buckets, rate)


class ThroughputCache:
    """Per queue, the last computed :class:`Throughput` and when it was computed."""

    def __init__(self, data: DashboardData, clock: Callable[[], float] = time.time) -> None:
        self.data = data
        self.clock = clock
        self._kept: dict[str, tuple[float, Throughput | None]] = {}
        self._lock = asyncio.Lock()

    async def get(self, queue: str) -> Throughput | None:
        """None where the backend cannot list finished jobs (SQS)."""
        async with self._lock:
            kept = self._kept.get(queue)
            if kept is not None and self.clock() - kept[0] < CACHE_FOR:
                return kept[1]
            value = await self._compute(queue)
            self._kept[queue] = (self.clock(), value)
            return value

    async def _compute(self, queue: str) -> Throughput | None:
        finished: list[float] = []
        known_from = -math.inf
        for status in COUNTED:
            page = await self.data.page(queue, status, SAMPLE)
            if page is None:
                return None
            times = [j.finished_at for j in page.jobs if j.finished_at is not None]
            finished += times
            if page.next_cursor is not None and times:  # older jobs exist that were not read
                known_from = max(known_from, min(times))
        return bucketed(finished, known_from, self.clock())

"""Throughput from finish times: buckets, the part that is unknown, the rate, the cache."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from qgen.dashboard.throughput import BUCKET, CACHE_FOR, WINDOW, ThroughputCache, bucketed

NOW = 1_000_000.0


def test_jobs_fall_into_their_buckets() -> None:
    finished = [NOW - 1, NOW - 2, NOW - BUCKET - 1, NOW - WINDOW + 1, NOW - WINDOW - 5]
    t = bucketed(finished, -math.inf, NOW)
    assert len(t.buckets) == int(WINDOW / BUCKET)
    assert t.buckets[-1] == 2 and t.buckets[-2] == 1 and t.buckets[0] == 1
    assert sum(b or 0 for b in t.buckets) == 4  # the one before the window is not shown
    assert t.peak == 2
    assert t.per_second == 3 / 60  # three in the last minute


def test_buckets_older_than_what_was_read_are_unknown() -> None:
    known_from = NOW - 25
    t = bucketed([NOW - 1, NOW - 24], known_from, NOW)
    unknown = [i for i, b in enumerate(t.buckets) if b is None]
    assert unknown == list(range(len(t.buckets) - 2))  # whole buckets after known_from only
    assert t.per_second == 2 / 25  # over the known part of the minute, not the whole minute


def test_too_little_known_gives_no_rate() -> None:
    assert bucketed([NOW - 0.1], NOW - 0.5, NOW).per_second is None
    assert bucketed([NOW - 1, NOW - 2], NOW - 4, NOW).per_second == 0.5  # busy: seconds known


def test_a_database_clock_ahead_counts_in_the_last_bucket() -> None:
    assert bucketed([NOW + 3], -math.inf, NOW).buckets[-1] == 1


@dataclass
class FakeJob:
    finished_at: float | None


@dataclass
class FakePage:
    jobs: list[FakeJob]
    next_cursor: str | None = None


@dataclass
class FakeData:
    """Stands in for DashboardData: pages of finished jobs per status, and the reads made."""

    pages: dict[str, FakePage]
    reads: list[str] = field(default_factory=list)

    async def page(self, queue: str, status: str, limit: int) -> FakePage | None:
        self.reads.append(status)
        return self.pages.get(status)


def test_the_cache_reads_once_per_period_and_a_full_page_bounds_what_is_known() -> None:
    clock = [NOW]
    data = FakeData(
        {
            "completed": FakePage([FakeJob(NOW - 1), FakeJob(NOW - 15)], next_cursor="more"),
            "failed": FakePage([FakeJob(NOW - 100)]),
            "discarded": FakePage([FakeJob(None)]),
        }
    )
    cache = ThroughputCache(data, clock=lambda: clock[0])  # type: ignore[arg-type]

    first = asyncio.run(cache.get("q"))
    assert first is not None and data.reads == ["completed", "failed", "discarded"]
    assert first.buckets[-1] == 1  # the job 15 s ago is in a bucket only partly known
    assert first.buckets[-2] is None and first.buckets[0] is None  # the failed one's too
    clock[0] += CACHE_FOR / 2
    assert asyncio.run(cache.get("q")) is first and len(data.reads) == 3
    clock[0] += CACHE_FOR
    asyncio.run(cache.get("q"))
    assert len(data.reads) == 6


def test_no_listing_no_throughput() -> None:
    cache = ThroughputCache(FakeData({}))  # type: ignore[arg-type]
    assert asyncio.run(cache.get("q")) is None

"""Queues and schedules of the schedules tests, written as a user writes them."""

from __future__ import annotations

from datetime import timedelta

from qgen import wire_queue_worker, wire_schedule
from sched_app import jobs

wire_queue_worker(
    queue="ticks", func=jobs.tick, config={"poll_interval": 20, "drain_delay": 1, "attempts": 1}
)
wire_queue_worker(
    queue="ticks.fifo",
    func=jobs.tick,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1},
)  # SQS: deduplicating
wire_queue_worker(
    queue="digest", func=jobs.digest, config={"poll_interval": 20, "drain_delay": 1, "attempts": 1}
)

wire_schedule(name="fast", queue="ticks", every=400, data={"n": 1})
wire_schedule(
    name="fast-fifo", queue="ticks.fifo", every=timedelta(milliseconds=400), data={"n": 2}
)
wire_schedule(
    name="nightly",
    queue="digest",
    cron="30 2 * * *",
    tz="Europe/Berlin",
    data={"kind": "nightly"},
)

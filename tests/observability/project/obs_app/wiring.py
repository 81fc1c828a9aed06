"""The one queue of the observability tests: three attempts, a short fixed backoff."""

from __future__ import annotations

from obs_app import jobs
from qgen import wire_queue_worker

wire_queue_worker(
    queue="obs",
    func=jobs.act,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 3,
        "backoff": {"type": "fixed", "delay": 100},
        "batch_size": 4,
        "visibility_timeout": 30,
    },
)

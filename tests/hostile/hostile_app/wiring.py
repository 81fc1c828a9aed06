"""Queues of the hostile suite. Small poll intervals keep it fast."""

from __future__ import annotations

from typing import Any

from hostile_app import jobs
from qgen import wire_queue_worker

FAST: dict[str, Any] = {"poll_interval": 20, "drain_delay": 1}
ONCE_TO_DEAD: dict[str, Any] = {**FAST, "attempts": 1, "dead_letter": "h-dead", "batch_size": 4}

wire_queue_worker(queue="h-record", func=jobs.record, config={**FAST, "batch_size": 4})
wire_queue_worker(queue="h-mail", func=jobs.mail, config={**FAST, "attempts": 1})
wire_queue_worker(queue="h-result", func=jobs.any_result, config=ONCE_TO_DEAD)
wire_queue_worker(queue="h-measure", func=jobs.float_result, config=ONCE_TO_DEAD)
wire_queue_worker(queue="h-dead", func=jobs.dead, config=FAST)

QUEUES = ("h-record", "h-mail", "h-result", "h-measure", "h-dead")

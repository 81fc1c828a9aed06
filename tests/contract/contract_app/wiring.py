"""Queues of the contract app. Small poll intervals keep the suite fast."""

from __future__ import annotations

from typing import Any

from contract_app import jobs
from contract_app.middleware import inner, outer
from qgen import wire_queue_worker

FAST: dict[str, Any] = {"poll_interval": 20, "drain_delay": 1, "attempts": 1}

ECHO = {
    "echo-order": jobs.echo_order,
    "echo-tree": jobs.echo_tree,
    "echo-mail": jobs.echo_mail,
    "echo-point": jobs.echo_point,
    "echo-color": jobs.echo_color,
    "echo-size": jobs.echo_size,
    "echo-union": jobs.echo_union,
    "echo-items": jobs.echo_items,
    "echo-counts": jobs.echo_counts,
    "echo-ids": jobs.echo_ids,
    "echo-scalars": jobs.echo_scalars,
    "echo-maybe": jobs.echo_maybe,
    "echo-positive": jobs.echo_positive,
}
for _queue, _func in ECHO.items():
    wire_queue_worker(queue=_queue, func=_func, config={**FAST, "batch_size": 4})

wire_queue_worker(queue="work", func=jobs.work, config={**FAST, "batch_size": 5})
wire_queue_worker(
    queue="retry",
    func=jobs.work,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 3,
        "backoff": {"type": "fixed", "delay": 300},
    },
)
wire_queue_worker(
    queue="doomed",
    func=jobs.work,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 2,
        "backoff": {"type": "fixed", "delay": 100},
        "dead_letter": "graveyard",
    },
)
wire_queue_worker(queue="graveyard", func=jobs.work, config=FAST)
wire_queue_worker(queue="timeout", func=jobs.work, config={**FAST, "timeout": 0.3})
wire_queue_worker(queue="priority", func=jobs.work, config={**FAST, "batch_size": 1, "prefetch": 1})
wire_queue_worker(queue="exclusive", func=jobs.work, config={**FAST, "batch_size": 4})
wire_queue_worker(queue="notify", func=jobs.notify, config=FAST)
wire_queue_worker(queue="blocking", func=jobs.blocking, config={**FAST, "batch_size": 2})
wire_queue_worker(
    queue="mw", func=jobs.with_services, config=FAST, middleware=[outer, inner], tags=["test"]
)
wire_queue_worker(queue="manual", func=jobs.work, config={**FAST, "autorun": False})
wire_queue_worker(queue="shutdown", func=jobs.work, config={**FAST, "batch_size": 2})
# attempts at the default (3): on SQS a message given back at shutdown costs a receive
wire_queue_worker(
    queue="shutdown-rec", func=jobs.recorded, config={**FAST, "batch_size": 2, "attempts": 3}
)

OTHERS = (
    "work",
    "retry",
    "doomed",
    "graveyard",
    "timeout",
    "priority",
    "exclusive",
    "notify",
    "blocking",
    "mw",
    "manual",
    "shutdown",
    "shutdown-rec",
)

"""Queues of the contract app, written as a user writes them: every ``wire_queue_worker`` call
with literal arguments, so ``qgen build`` can read it. Small poll intervals keep the suite fast.
"""

from __future__ import annotations

from contract_app import jobs
from contract_app.middleware import inner, outer
from qgen import wire_queue_worker

# -- round trips: one queue per schema kind -----------------------------------------------------
wire_queue_worker(
    queue="echo-order",
    func=jobs.echo_order,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-tree",
    func=jobs.echo_tree,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-mail",
    func=jobs.echo_mail,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-point",
    func=jobs.echo_point,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-color",
    func=jobs.echo_color,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-size",
    func=jobs.echo_size,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-union",
    func=jobs.echo_union,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-items",
    func=jobs.echo_items,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-counts",
    func=jobs.echo_counts,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-ids",
    func=jobs.echo_ids,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-scalars",
    func=jobs.echo_scalars,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-maybe",
    func=jobs.echo_maybe,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="echo-positive",
    func=jobs.echo_positive,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)

# -- behaviour ----------------------------------------------------------------------------------
wire_queue_worker(
    queue="work",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 5},
)
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
# per-job backoff cases: eight jobs at once, each with its own backoff and attempts
wire_queue_worker(
    queue="backoff",
    func=jobs.work,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "batch_size": 8,
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
wire_queue_worker(
    queue="graveyard", func=jobs.work, config={"poll_interval": 20, "drain_delay": 1, "attempts": 1}
)
wire_queue_worker(
    queue="timeout",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "timeout": 0.3},
)
wire_queue_worker(
    queue="priority",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 1, "prefetch": 1},
)
wire_queue_worker(
    queue="exclusive",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 4},
)
wire_queue_worker(
    queue="notify", func=jobs.notify, config={"poll_interval": 20, "drain_delay": 1, "attempts": 1}
)
wire_queue_worker(
    queue="blocking",
    func=jobs.blocking,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 2},
)
wire_queue_worker(
    queue="mw",
    func=jobs.with_services,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1},
    middleware=[outer, inner],
    tags=["test"],
)
wire_queue_worker(
    queue="manual",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "autorun": False},
)
wire_queue_worker(
    queue="shutdown",
    func=jobs.work,
    config={"poll_interval": 20, "drain_delay": 1, "attempts": 1, "batch_size": 2},
)
# attempts at the default (3): on SQS a message given back at shutdown costs a receive
wire_queue_worker(
    queue="shutdown-rec",
    func=jobs.recorded,
    config={"poll_interval": 20, "drain_delay": 1, "batch_size": 2, "attempts": 3},
)

# -- the operator API (issue 14) ---------------------------------------------------------------
# Short leases, so a cancel request reaches the worker at its next renewal within a second.
wire_queue_worker(
    queue="cancellable",
    func=jobs.cancellable,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 3,
        "visibility_timeout": 3,
        "lock_duration": 3000,
        "dead_letter": "graveyard",
        "name": "canceller",
    },
)
# Long leases: the next renewal is at least 20 s away, so a cancel seen within a few seconds
# was pushed to the worker.
wire_queue_worker(
    queue="cancellable-long",
    func=jobs.cancellable,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 1,
        "visibility_timeout": 60,
        "lock_duration": 60000,
    },
)
wire_queue_worker(
    queue="cancellable-sync",
    func=jobs.cancellable_sync,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 3,
        "visibility_timeout": 3,
        "lock_duration": 3000,
        "dead_letter": "graveyard",
    },
)
# finished jobs age out after one second
wire_queue_worker(
    queue="short-lived",
    func=jobs.work,
    config={
        "poll_interval": 20,
        "drain_delay": 1,
        "attempts": 1,
        "remove_on_complete": {"age": 1},
        "remove_on_fail": {"age": 1, "count": 100},
    },
)

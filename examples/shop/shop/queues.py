"""Wiring: which function serves which queue, and how. `qgen build` reads this file statically."""

from qgen import QueueWorkerConfig, wire_queue_worker
from shop.functions.email import send_welcome_email
from shop.functions.payment import process_payment, record_dead_payment
from shop.functions.report import generate_report
from shop.middleware import audit_middleware

wire_queue_worker(
    queue="emails",
    func=send_welcome_email,
    config={"batch_size": 5, "attempts": 3, "remove_on_complete": 1000},
    tags=["email"],
)

wire_queue_worker(
    queue="payments",
    func=process_payment,
    config={
        "batch_size": 3,
        "prefetch": 10,
        "poll_interval": 200,
        "visibility_timeout": 300,
        "lock_duration": 30000,
        "drain_delay": 5,
        "remove_on_complete": 100,
        "remove_on_fail": 50,
        "max_stalled_count": 3,
        "name": "payment-worker",
        "autorun": True,
        "attempts": 3,
        "backoff": {"type": "exponential", "delay": 200},
        "dead_letter": "payments-dead",
        "timeout": 120,
    },
    middleware=[audit_middleware],
    tags=["payments", "critical"],
)

wire_queue_worker(
    queue="payments-dead",
    func=record_dead_payment,
    config={"batch_size": 1, "attempts": 1},
    tags=["payments"],
)

wire_queue_worker(
    queue="reports",
    func=generate_report,
    config=QueueWorkerConfig(batch_size=2, attempts=2, timeout=60),
    middleware=[audit_middleware],
    tags=["reports"],
)

"""Wiring."""

from qgen import QueueWorkerConfig, wire_queue_worker
from shop.functions import email
from shop.functions.payment import process_payment as pay
from shop.middleware import audit

wire_queue_worker(
    queue="payments",
    func=pay,
    config={
        "batch_size": 3,
        "attempts": 5,
        "backoff": {"type": "exponential", "delay": 1000},
        "dead_letter": "payments-dead",
        "timeout": 120,
        "lock_duration": 30000,
    },
    middleware=[audit],
    tags=["payments", "critical"],
)
wire_queue_worker(queue="emails", func=email.send_welcome_email, config={"attempts": 3})
wire_queue_worker(
    queue="publish-article",
    func=email.publish_article,
    config=QueueWorkerConfig(batch_size=2, timeout=60),
)

"""Peer: dramatiq with its RedisBroker, one Worker with 10 threads, a private namespace."""

from __future__ import annotations

import threading
import time
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench.peers.redis_common import cleanup, split_url

SINGLE_MAX = 5000


def run(url: str, jobs: int) -> dict[str, Any]:
    base, prefix = split_url(url)
    broker = RedisBroker(url=base, namespace=prefix)
    dramatiq.set_broker(broker)
    lock = threading.Lock()
    done = {"n": 0}
    finished = threading.Event()

    @dramatiq.actor(broker=broker, queue_name="work", max_retries=0)
    def noop(order_id: str, amount: int, currency: str) -> None:
        with lock:
            done["n"] += 1
            if done["n"] >= jobs:
                finished.set()

    @dramatiq.actor(broker=broker, queue_name="single", max_retries=0)
    def single_noop(order_id: str, amount: int, currency: str) -> None:
        return None

    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    try:
        n_single = min(jobs, SINGLE_MAX)
        t0 = time.perf_counter()
        for _ in range(n_single):
            single_noop.send(**data)
        single = n_single / (time.perf_counter() - t0)

        t0 = time.perf_counter()
        # dramatiq has no bulk enqueue API: a group of messages is sent one by one.
        for _ in range(jobs):
            noop.send(**data)
        bulk = jobs / (time.perf_counter() - t0)

        worker = dramatiq.Worker(broker, queues={"work"}, worker_threads=10, worker_timeout=100)
        t0 = time.perf_counter()
        worker.start()
        finished.wait()
        elapsed = time.perf_counter() - t0
        worker.stop()
        return {
            "name": "dramatiq RedisBroker (10 threads)",
            "single_adds_per_s": single,
            "bulk_adds_per_s": bulk,
            "processed_per_s": jobs / elapsed,
            "bulk_note": "no bulk API: sends one by one",
        }
    finally:
        broker.close()
        cleanup(base, f"{prefix}:*")


if __name__ == "__main__":
    import sys

    print(run(sys.argv[1] if len(sys.argv) > 1 else "redis://127.0.0.1:6379/0", 10_000))

"""The qgen demo: add jobs through the generated client, run the generated SQLite worker, and
show what happened to each job.

    python -m shop.demo            (from examples/shop, after `qgen build`)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qgen import JobStatus
from qgen.runtime.client import JobHandle
from shop.generated import models
from shop.generated.client import QueueClient

ROOT = Path(__file__).resolve().parent.parent
FINISHED = {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DISCARDED}


def add_jobs(client: QueueClient) -> list[JobHandle[Any]]:
    jobs: list[JobHandle[Any]] = []
    for i, name in enumerate(["Ada", "Grace", "Linus"], start=1):
        jobs.append(
            client.emails.add({"user_id": i, "email": f"{name.lower()}@example.com", "name": name})
        )
    jobs.append(client.payments.add({"order_id": "o-1", "amount": 500, "currency": "EUR"}))
    # Declined once by the fake provider, then retried with backoff and charged.
    jobs.append(client.payments.add({"order_id": "o-2-flaky", "amount": 1250, "currency": "USD"}))
    # Over the card limit: fails every attempt, then is copied to the payments-dead queue.
    jobs.append(client.payments.add({"order_id": "o-3", "amount": 250_000, "currency": "GBP"}))
    jobs.append(
        client.reports.add({"month": dt.date(2026, 10, 1), "sections": ["sales", "refunds"]})
    )
    # Same job_id twice: one job.
    ops: models.EmailsInputDict = {"user_id": 9, "email": "ops@example.com", "name": "Ops"}
    jobs.append(client.emails.add(ops, job_id="welcome-ops"))
    again = client.emails.add(ops, job_id="welcome-ops")
    assert again.id == "welcome-ops"
    return jobs


def show_progress(jobs: list[JobHandle[Any]], tty: bool) -> bool:
    states = [j.status() for j in jobs]
    done = sum(s in FINISHED for s in states)
    report = jobs[-2].progress()
    bar_len = 30
    filled = bar_len * done // len(jobs)
    line = (
        f"[{'#' * filled}{'.' * (bar_len - filled)}] {done}/{len(jobs)} jobs finished"
        f" | report progress: {report if report is not None else '-'}"
    )
    print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
    return done == len(jobs)


def describe(job: JobHandle[Any]) -> tuple[str, ...]:
    info = job.info()
    if info.status is JobStatus.COMPLETED:
        outcome = "no result" if info.result is None else f"{info.result}"
    elif info.error is not None:
        outcome = f"{info.error.type}: {info.error.message}"
    else:
        outcome = ""
    progress = "" if info.progress is None else str(info.progress)
    return (
        job.queue,
        job.id,
        info.status.value,
        f"{info.attempts_made}/{info.max_attempts}",
        progress,
        outcome[:70],
    )


def print_table(rows: list[tuple[str, ...]]) -> None:
    head = ("queue", "job", "status", "tries", "progress", "result or error")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*head).rstrip())
    print(fmt.format(*("-" * w for w in widths)))
    for row in rows:
        print(fmt.format(*row).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / ".qgen" / "demo.db"), help="queue file")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after S seconds")
    args = parser.parse_args(argv)

    db = Path(args.db)
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a fresh queue file on every demo run
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    print(f"qgen demo on {url}\n")

    with QueueClient.from_url(url) as client:
        jobs = add_jobs(client)
        print(f"added {len(jobs)} jobs (and one duplicate job_id, which made no new job)")
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        worker = subprocess.Popen(
            [sys.executable, "-m", "shop.generated.workers.sqlite", "--url", url],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        print(
            f"started the SQLite worker (pid {worker.pid}): "
            "python -m shop.generated.workers.sqlite\n"
        )
        tty = sys.stdout.isatty()
        deadline = time.monotonic() + args.timeout
        try:
            while not show_progress(jobs, tty):
                if worker.poll() is not None:
                    err = worker.stderr.read() if worker.stderr else ""
                    print(f"\nthe worker stopped early:\n{err}")
                    return 1
                if time.monotonic() > deadline:
                    print("\ntimed out waiting for the jobs")
                    return 1
                time.sleep(0.25 if tty else 1.0)
        finally:
            worker.send_signal(signal.SIGTERM)  # graceful: finishes running jobs, then exits 0
            worker.wait(timeout=30)
        print("\n")
        # The payment that failed for good was copied, with its id, to the dead-letter queue
        # (whose own function ran on it); the demo's worker served that queue too.
        failed = [j for j in jobs if j.queue == "payments" and j.status() is JobStatus.FAILED]
        rows = [describe(j) for j in jobs]
        rows += [describe(client.payments_dead.get(j.id)) for j in failed]
        print_table(rows)
        print(f"\nthe worker exited with status {worker.returncode} after SIGTERM (graceful drain)")
    return 0 if worker.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

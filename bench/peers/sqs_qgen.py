"""qgen on SQS: single adds through a generated-style async client, ``add_many``, and one worker
(batch_size 10, prefetch 10) from start to the last job done, counting the SQS API calls the
worker makes per job (receive, delete, change-visibility: what AWS bills).

The worker runs in this process (``run_worker``) so a botocore event hook can count its calls;
the SQS server should run in another process.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from typing import Any

from qgen.runtime.backends.sqs import transport as sqs_calls
from qgen.runtime.client import AsyncClientBase, QueueMeta
from qgen.runtime.worker import run_worker

try:
    from bench.peers import sqs_qgen_app as app
except ImportError:  # run as a script from bench/peers
    import sqs_qgen_app as app  # type: ignore[no-redef]

SINGLE_MAX = 200
META = QueueMeta(app.QUEUE, app.Order, None, {"batch_size": 10, "prefetch": 10, "attempts": 3})
CALLS: Counter[str] = Counter()


class BenchClient(AsyncClientBase):
    QUEUES = {app.QUEUE: META}


def _counting_make_client(url: Any, pool: int = 10) -> Any:
    client = _make_client(url, pool)
    client.meta.events.register("before-call.sqs.*", lambda model, **_: CALLS.update([model.name]))
    return client


_make_client = sqs_calls.make_client


def _with_prefix(url: str) -> str:
    prefix = f"qgen-bench-{secrets.token_hex(3)}-"
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}prefix={prefix}&create=1"


async def _run(url: str, jobs: int) -> dict[str, Any]:
    qurl = _with_prefix(url)
    data = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
    sqs_calls.make_client = _counting_make_client  # type: ignore[assignment]
    try:
        client = BenchClient(qurl)
        n_single = min(jobs // 2, SINGLE_MAX)
        await client.add(app.QUEUE, data)  # connect (and create the queue) outside the timing
        t0 = time.perf_counter()
        for _ in range(n_single):
            await client.add(app.QUEUE, data)
        single = n_single / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        await client.queue(app.QUEUE).add_many([data] * (jobs - n_single - 1))
        bulk = (jobs - n_single - 1) / (time.perf_counter() - t0)
        await client.close()

        CALLS.clear()
        app.DONE[0] = 0
        stop = asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.create_task(
            run_worker(qurl, wiring_modules=[app.__name__], services=None, grace=5, stop=stop)
        )
        while app.DONE[0] < jobs:
            if task.done():
                task.result()
                raise RuntimeError("worker stopped early")
            await asyncio.sleep(0.01)
        processed = jobs / (time.perf_counter() - t0)
        calls = Counter(CALLS)  # up to the last job: includes its final delete if it was sent
        stop.set()
        await task
        final = Counter(CALLS)
    finally:
        sqs_calls.make_client = _make_client
        _delete_queue(qurl)
    work = {
        k: final[k]
        for k in (
            "ReceiveMessage",
            "DeleteMessageBatch",
            "ChangeMessageVisibilityBatch",
            "DeleteMessage",
            "ChangeMessageVisibility",
        )
    }
    return {
        "name": "qgen",
        "single_adds_per_s": single,
        "bulk_adds_per_s": bulk,
        "processed_per_s": processed,
        "calls_per_job": sum(work.values()) / jobs,
        "calls": {k: v for k, v in work.items() if v},
        "calls_at_last_job": sum(calls[k] for k in work) / jobs,
    }


def _delete_queue(qurl: str) -> None:
    from qgen.runtime.backends.sqs.url import parse_sqs_url

    parsed = parse_sqs_url(qurl)
    client = _make_client(parsed)
    try:
        client.delete_queue(
            QueueUrl=client.get_queue_url(QueueName=parsed.sqs_name(app.QUEUE))["QueueUrl"]
        )
    except Exception:
        pass
    finally:
        client.close()


def run(url: str, jobs: int) -> dict[str, Any]:
    return asyncio.run(_run(url, jobs))

"""AWS Lambda handler for an SQS event source: the generated ``<out>/workers/sqs_lambda.py``.

    handler = make_handler(MANIFEST)   # handler(event, context) -> {"batchItemFailures": [...]}

Per container (the first event), the wiring modules are imported, checked against the manifest
and the services created once; an event loop is kept for the container's life so services
bound to it (HTTP sessions, pools) survive between events. Each record runs through the same
runner as the long-polling worker; the attempt is the record's ApproximateReceiveCount.

The answer lists only the records to retry; turn on ``ReportBatchItemFailures`` on the event
source mapping, or Lambda retries the whole batch when one record fails. Per outcome:

- completed, discarded: success (Lambda deletes the message);
- retry: the message's visibility is set to the backoff delay, then reported as a failure, so
  SQS delivers it again after the delay;
- failed for good (attempts used up, invalid input, a body that is not JSON): a copy goes to
  the ``dead_letter`` queue if one is configured, then success, as in the worker; if that copy
  cannot be sent, a failure (the queue's redrive policy then moves it once its receives run out);
- a record of an unknown queue, or a crash outside the job: a failure.

FIFO queues: records of one queue are run in order and after the first failure the rest are
reported as failures unrun, as Lambda requires to keep a message group's order.

Settings: ``QGEN_URL`` (``sqs://<region>?prefix=...``; default ``sqs://$AWS_REGION``) gives the
queue-name prefix and the region for dead-letter copies and visibility changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qgen.runtime.backends.base import Completed, Discarded, Failed, Outcome, Retry
from qgen.runtime.backends.sqs import SqsBackend
from qgen.runtime.backends.sqs_consumer import job_outcome
from qgen.runtime.backends.sqs_messages import Received, retry_visibility
from qgen.runtime.backends.sqs_url import is_fifo
from qgen.runtime.manifest import load_manifest

log = logging.getLogger("qgen.sqs.lambda")

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def make_handler(manifest_path: str | Path) -> LambdaHandler:
    container = _Container(Path(manifest_path))

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return container.handle(event)

    return handler


class _Container:
    def __init__(self, manifest_path: Path) -> None:
        self.manifest_path = manifest_path
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: Any = None
        self.backend: SqsBackend | None = None

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self._handle(event))

    async def _start(self) -> tuple[Any, SqsBackend]:
        if self.app is None or self.backend is None:
            from qgen.runtime.worker import load_app

            manifest = load_manifest(self.manifest_path)
            root = str(manifest.project_root)
            if root not in sys.path:
                sys.path.insert(0, root)
            app = await load_app(
                wiring_modules=manifest.wiring_modules,
                services=manifest.services,
                backend="sqs",
                queues=sorted(manifest.queues),
                manifest=manifest,
            )
            url = os.environ.get("QGEN_URL") or f"sqs://{os.environ.get('AWS_REGION', '')}"
            configs = {s.name: dict(s.config) for s in app.all_settings}
            self.backend = await SqsBackend.connect(url, configs)
            self.app = app
        return self.app, self.backend

    async def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        app, backend = await self._start()
        by_queue: dict[str | None, list[Mapping[str, Any]]] = {}
        for record in event.get("Records", []):
            by_queue.setdefault(self._queue_of(backend, record), []).append(record)
        failures: list[str] = []
        for queue, records in by_queue.items():
            if queue is None or queue not in app.runners:
                for r in records:
                    log.error(
                        "record %s comes from %s, which is not a queue of this app",
                        r.get("messageId"),
                        r.get("eventSourceARN"),
                    )
                failures += [str(r.get("messageId")) for r in records]
            elif is_fifo(queue):
                failures += await self._in_order(app, backend, queue, records)
            else:
                failures += await self._concurrently(app, backend, queue, records)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}

    @staticmethod
    def _queue_of(backend: SqsBackend, record: Mapping[str, Any]) -> str | None:
        arn = str(record.get("eventSourceARN", ""))
        return backend.url.queue_for(arn.rsplit(":", 1)[-1]) if arn else None

    async def _in_order(
        self, app: Any, backend: SqsBackend, queue: str, records: list[Mapping[str, Any]]
    ) -> list[str]:
        for i, record in enumerate(records):
            if not await self._one(app, backend, queue, record):
                return [str(r.get("messageId")) for r in records[i:]]
        return []

    async def _concurrently(
        self, app: Any, backend: SqsBackend, queue: str, records: list[Mapping[str, Any]]
    ) -> list[str]:
        config = backend.queues.get(queue, {})
        slots = asyncio.Semaphore(max(1, int(config.get("batch_size", 10))))

        async def bounded(record: Mapping[str, Any]) -> bool:
            async with slots:
                return await self._one(app, backend, queue, record)

        results = await asyncio.gather(*(bounded(r) for r in records))
        return [str(r.get("messageId")) for r, ok in zip(records, results, strict=True) if not ok]

    async def _one(
        self, app: Any, backend: SqsBackend, queue: str, record: Mapping[str, Any]
    ) -> bool:
        """Run one record; True if Lambda may delete it."""
        try:
            msg = Received.from_lambda(record)
        except (KeyError, TypeError) as exc:
            log.error("malformed SQS record dropped: %s", exc, extra={"queue": queue})
            return True
        extra = {"queue": queue, "job_id": msg.job_id}
        config = backend.queues.get(queue, {})
        try:
            outcome: Outcome = await job_outcome(queue, config, msg, app.handle)
        except Exception:
            log.exception("job %s: no outcome; SQS will deliver it again", msg.job_id, extra=extra)
            return False
        if isinstance(outcome, Completed | Discarded):
            return True
        if isinstance(outcome, Retry):
            try:
                url = await backend.calls.queue_url(queue)
                await backend.calls.run(
                    backend.calls.client.change_message_visibility,
                    QueueUrl=url,
                    ReceiptHandle=msg.receipt_handle,
                    VisibilityTimeout=retry_visibility(outcome.delay),
                )
            except Exception as exc:  # the queue's own visibility timeout applies instead
                log.warning("job %s: backoff not set: %s", msg.job_id, exc, extra=extra)
            return False
        assert isinstance(outcome, Failed)
        if outcome.dead_letter:
            try:
                await backend.copy_to_dead_letter(queue, msg, outcome.dead_letter, outcome.error)
            except Exception as exc:
                log.error("job %s: dead-letter copy failed: %s", msg.job_id, exc, extra=extra)
                return False
        return True

"""The records of an AWS Lambda SQS event, run through the handler and answered as Lambda wants.

The answer lists only the records to retry (``batchItemFailures``); the event source mapping
needs ``ReportBatchItemFailures``, or Lambda retries the whole batch when one record fails. Per
outcome:

- completed, discarded: success (Lambda deletes the message);
- retry: the message's visibility is set to the backoff delay, then reported as a failure, so
  SQS delivers it again after the delay;
- failed for good (attempts used up, invalid input, a body that is not JSON): a copy goes to
  the ``dead_letter`` queue if one is configured, then success, as in the worker; if that copy
  cannot be sent, a failure (the queue's redrive policy then moves it once its receives run out);
- a record of an unknown queue, or a crash outside the job: a failure.

FIFO queues: records of one queue are run in order and after the first failure the rest are
reported as failures unrun, as Lambda requires to keep a message group's order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping
from typing import Any

from qgen.runtime.backends.base import Completed, Discarded, Failed, Handler, Outcome, Retry
from qgen.runtime.backends.sqs.jobs import Received, SqsJob, job_outcome, retry_visibility
from qgen.runtime.backends.sqs.outcomes import copy_to_dead_letter
from qgen.runtime.backends.sqs.transport import SqsCalls
from qgen.runtime.backends.sqs.url import is_fifo
from qgen.runtime.settings import SettingsBook

log = logging.getLogger("qgen.sqs.lambda")

Record = Mapping[str, Any]


class LambdaBatch:
    """Runs the records of one event for the queues in ``queues``."""

    def __init__(
        self, calls: SqsCalls, settings: SettingsBook, handle: Handler, queues: Collection[str]
    ) -> None:
        self.calls, self.settings, self.handle, self.queues = calls, settings, handle, queues

    async def run(self, event: Mapping[str, Any]) -> dict[str, Any]:
        by_queue: dict[str | None, list[Record]] = {}
        for record in event.get("Records", []):
            by_queue.setdefault(self._queue_of(record), []).append(record)
        failures: list[str] = []
        for queue, records in by_queue.items():
            if queue is None or queue not in self.queues:
                for r in records:
                    log.error(
                        "record %s comes from %s, which is not a queue of this app",
                        r.get("messageId"),
                        r.get("eventSourceARN"),
                    )
                failures += [str(r.get("messageId")) for r in records]
            elif is_fifo(queue):
                failures += await self._in_order(queue, records)
            else:
                failures += await self._concurrently(queue, records)
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}

    def _queue_of(self, record: Record) -> str | None:
        arn = str(record.get("eventSourceARN", ""))
        return self.calls.url.queue_for(arn.rsplit(":", 1)[-1]) if arn else None

    async def _in_order(self, queue: str, records: list[Record]) -> list[str]:
        for i, record in enumerate(records):
            if not await self._one(queue, record):
                return [str(r.get("messageId")) for r in records[i:]]
        return []

    async def _concurrently(self, queue: str, records: list[Record]) -> list[str]:
        slots = asyncio.Semaphore(max(1, self.settings[queue].batch_size))

        async def bounded(record: Record) -> bool:
            async with slots:
                return await self._one(queue, record)

        results = await asyncio.gather(*(bounded(r) for r in records))
        return [str(r.get("messageId")) for r, ok in zip(records, results, strict=True) if not ok]

    async def _one(self, queue: str, record: Record) -> bool:
        """Run one record; True if Lambda may delete it."""
        try:
            msg = Received.from_lambda(record)
        except (KeyError, TypeError) as exc:
            log.error("malformed SQS record dropped: %s", exc, extra={"queue": queue})
            return True
        extra = {"queue": queue, "job_id": msg.job_id}
        try:
            outcome: Outcome = await job_outcome(SqsJob(msg, self.settings[queue]), self.handle)
        except Exception:
            log.exception("job %s: no outcome; SQS will deliver it again", msg.job_id, extra=extra)
            return False
        if isinstance(outcome, Completed | Discarded):
            return True
        if isinstance(outcome, Retry):
            await self._retry_later(queue, msg, outcome.delay)
            return False
        assert isinstance(outcome, Failed)
        if outcome.dead_letter:
            try:
                await copy_to_dead_letter(
                    self.calls, queue, msg, outcome.dead_letter, outcome.error
                )
            except Exception as exc:
                log.error("job %s: dead-letter copy failed: %s", msg.job_id, exc, extra=extra)
                return False
        return True

    async def _retry_later(self, queue: str, msg: Received, delay: float) -> None:
        try:
            url = await self.calls.queue_url(queue)
            await self.calls.run(
                self.calls.client.change_message_visibility,
                QueueUrl=url,
                ReceiptHandle=msg.receipt_handle,
                VisibilityTimeout=retry_visibility(msg, delay),
            )
        except Exception as exc:  # the queue's own visibility timeout applies instead
            extra = {"queue": queue, "job_id": msg.job_id}
            log.warning("job %s: backoff not set: %s", msg.job_id, exc, extra=extra)

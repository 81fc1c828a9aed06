"""How the SQS consumer stores outcomes: batched acknowledgements and dead-letter copies.

Completed and discarded -> deleted; Retry -> ChangeMessageVisibility to the backoff delay (the
message comes back then); Failed for good -> a copy sent to the ``dead_letter`` queue, then
deleted (kept when the copy cannot be sent: it comes back and is tried again); given back ->
visibility 0.

Acknowledgements of one queue go out batched (DeleteMessageBatch,
ChangeMessageVisibilityBatch).
Entries wait at most ``linger`` seconds for company; ten entries go out at once. A batch that
fails as a whole (server gone) is tried again with a growing pause; after a few failures its
entries are dropped, which is safe: a message never deleted comes back after its visibility
timeout and runs again (delivery is at least once). Entries the server refuses one by one (an
expired receipt handle) are logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from qgen.runtime.backends.base import ErrorInfo, Failed, Outcome, Retry
from qgen.runtime.backends.sqs.jobs import Received, dead_letter_params, retry_visibility
from qgen.runtime.backends.sqs.transport import SqsCalls
from qgen.runtime.backends.sqs.url import SQS_MAX_BATCH
from qgen.runtime.cancel import raise_if_cancelled

log = logging.getLogger("qgen.sqs")

_MAX_TRIES = 5


@dataclass(slots=True)
class _Entry:
    msg: Received
    visibility: int | None  # None: delete
    tries: int = 0


class Acks:
    def __init__(self, calls: SqsCalls, queue: str, *, linger: float = 0.1) -> None:
        self.calls = calls
        self.queue = queue
        self.linger = linger
        self._deletes: list[_Entry] = []
        self._changes: list[_Entry] = []
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def delete(self, msg: Received) -> None:
        self._add(self._deletes, _Entry(msg, None))

    def change(self, msg: Received, visibility: int) -> None:
        self._add(self._changes, _Entry(msg, visibility))

    async def extend(self, msgs: list[tuple[Received, int]]) -> None:
        """Heartbeat: extend each message to its visibility now, in batches of 10 (not
        lingering: it is already due)."""
        entries = [_Entry(m, visibility) for m, visibility in msgs]
        for i in range(0, len(entries), SQS_MAX_BATCH):
            await self._send(entries[i : i + SQS_MAX_BATCH], retry=False)

    def _add(self, pending: list[_Entry], entry: _Entry) -> None:
        pending.append(entry)
        if len(pending) >= SQS_MAX_BATCH:
            self._flush_now()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.linger, self._flush_now)

    def _flush_now(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for pending in (self._deletes, self._changes):
            while pending:
                batch = pending[:SQS_MAX_BATCH]
                del pending[:SQS_MAX_BATCH]
                task = asyncio.create_task(self._send(batch, retry=True))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Flush everything pending and wait for it (entries retried once at most)."""
        self._flush_now()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            self._flush_now()

    async def _send(self, batch: list[_Entry], *, retry: bool) -> None:
        calls = self.calls
        try:
            url = await calls.queue_url(self.queue)
            if batch[0].visibility is None:
                entries: Any = [
                    {"Id": str(i), "ReceiptHandle": e.msg.receipt_handle}
                    for i, e in enumerate(batch)
                ]
                reply = await calls.run(
                    calls.client.delete_message_batch, QueueUrl=url, Entries=entries
                )
            else:
                entries = [
                    {
                        "Id": str(i),
                        "ReceiptHandle": e.msg.receipt_handle,
                        "VisibilityTimeout": e.visibility,
                    }
                    for i, e in enumerate(batch)
                ]
                reply = await calls.run(
                    calls.client.change_message_visibility_batch, QueueUrl=url, Entries=entries
                )
        except Exception as exc:
            raise_if_cancelled()  # a lost cancel is not a failed batch to retry
            for e in batch:
                e.tries += 1
            keep = [e for e in batch if e.tries < _MAX_TRIES]
            what = "delete" if batch[0].visibility is None else "visibility change"
            log.warning(
                "SQS %s of %d messages on %s failed (%s)%s",
                what,
                len(batch),
                self.queue,
                exc,
                "; will retry" if retry and keep else "",
                extra={"queue": self.queue},
            )
            if retry and keep:
                await asyncio.sleep(min(10.0, 0.5 * 2 ** (keep[0].tries - 1)))
                await self._send(keep, retry=True)
            return
        for failed in reply.get("Failed", []):
            msg = batch[int(failed["Id"])].msg
            log.warning(
                "SQS refused to acknowledge job %s: %s %s",
                msg.job_id,
                failed.get("Code"),
                failed.get("Message", ""),
                extra={"queue": self.queue, "job_id": msg.job_id},
            )


async def copy_to_dead_letter(
    calls: SqsCalls, source: str, msg: Received, target: str, error: ErrorInfo
) -> None:
    params = dead_letter_params(msg, source, target, error)

    def send(url: str) -> None:
        calls.client.send_message(QueueUrl=url, **params)

    await calls.on_queue(target, send)
    log.info(
        "job %s of %s failed for good; copied to dead-letter queue %s",
        msg.job_id,
        source,
        target,
        extra={"queue": source, "job_id": msg.job_id},
    )


async def store(acks: Acks, msg: Received, outcome: Outcome) -> bool:
    """Store ``outcome`` of ``msg``; True when the message is finished (deleted)."""
    if isinstance(outcome, Retry):
        visibility = retry_visibility(msg, outcome.delay)
        if visibility < outcome.delay:
            log.warning(
                "job %s: a backoff of %.0f s is longer than SQS can hide a message (12 h after "
                "its receive); it is retried in %d s",
                msg.job_id,
                outcome.delay,
                visibility,
                extra={"queue": acks.queue, "job_id": msg.job_id},
            )
        acks.change(msg, visibility)
        return False
    if isinstance(outcome, Failed) and outcome.dead_letter:
        try:
            await copy_to_dead_letter(
                acks.calls, acks.queue, msg, outcome.dead_letter, outcome.error
            )
        except Exception as exc:  # keep the message: it comes back and is tried again
            raise_if_cancelled()
            log.error(
                "job %s: copy to dead-letter queue %s failed: %s",
                msg.job_id,
                outcome.dead_letter,
                exc,
                extra={"queue": acks.queue, "job_id": msg.job_id},
            )
            return False
    acks.delete(msg)  # completed, discarded, or failed for good
    return True

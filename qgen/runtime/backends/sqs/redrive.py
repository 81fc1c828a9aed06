"""Redrive on SQS (issue 14): dead letters received from the dead-letter queue, validated
against the target queue's current input schema, sent to the target queue, then deleted.

- Receives of up to 10 with a 1 s long poll, each message hidden for :data:`HIDE_S` while the
  run handles it, until a receive finds nothing new (or ``limit`` messages moved, or
  :data:`MAX_SCAN` looked at, or :data:`RECEIVE_FOR_S` spent: run it again for more). SQS
  gives no order guarantee on a standard queue: "oldest first" is SQS's approximate order.
- A message whose body is not JSON, fails ``validate``, or carries ``qgen.source`` naming
  another queue stays in the dead-letter queue and is listed in ``kept``; so is one whose send
  failed. Every message the run leaves behind (kept, beyond ``limit``, all of them on a dry
  run) is made visible again at the end (visibility 0), so the next redrive sees it at once.
- The sent message keeps the body and the message attributes, less the dead-letter ones
  (``qgen.source``, ``qgen.error``); its attempts start afresh (SQS counts receives of the new
  message). Its job id is the ``qgen.job_id`` it carried, else the new SQS MessageId.
- FIFO: the message keeps its MessageGroupId (the default group without one); the
  deduplication id is ``rd-<dead letter's MessageId>``, so the same dead letter sent twice
  within SQS's 5-minute window (a send retried by boto3) is one message. A kept message
  holds back the rest of its group in a FIFO dead-letter queue (SQS keeps the group's order):
  fix or remove it to redrive the others.
- Send, then delete: at least once. A crash between the two sends the job twice once the dead
  letter shows again after :data:`HIDE_S` and is redriven again (past the FIFO window too).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from qgen.runtime.backends.ops import RedriveReport, Validate
from qgen.runtime.backends.sqs.jobs import A_ERROR, A_JOB_ID, A_SOURCE, DEFAULT_GROUP, Received
from qgen.runtime.backends.sqs.transport import SqsCalls
from qgen.runtime.backends.sqs.url import SQS_MAX_BATCH, is_fifo

log = logging.getLogger("qgen.sqs")

HIDE_S = 900  # a received dead letter stays hidden this long while a redrive handles it
RECEIVE_FOR_S = HIDE_S / 3  # a run receives for at most this long: well before they show again
MAX_SCAN = 50_000  # messages one run looks at (SQS allows 120,000 in flight per queue)
Raw = tuple[dict[str, Any], Received]  # a message as boto3 gave it, and as qgen reads it
_DROPPED = (A_SOURCE, A_ERROR)


def redrive_params(raw: dict[str, Any], msg: Received, target: str) -> dict[str, Any]:
    """SendMessage parameters (QueueUrl added by the caller) of a dead letter sent back."""
    attributes = {
        name: {k: v for k, v in attr.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, attr in (raw.get("MessageAttributes") or {}).items()
        if name not in _DROPPED
    }
    params: dict[str, Any] = {"MessageBody": msg.body}
    if attributes:
        params["MessageAttributes"] = attributes
    if is_fifo(target):
        params["MessageGroupId"] = msg.group or DEFAULT_GROUP
        params["MessageDeduplicationId"] = f"rd-{msg.message_id}"
    return params


class Redrive:
    """One redrive run from ``dead_letter`` to ``target`` (see the module's docstring)."""

    def __init__(
        self, calls: SqsCalls, dead_letter: str, target: str, validate: Validate, dry_run: bool
    ) -> None:
        self.calls = calls
        self.dead_letter, self.target = dead_letter, target
        self.validate, self.dry_run = validate, dry_run
        self.report = RedriveReport(dry_run=dry_run)
        self.left: list[Received] = []  # received, staying: made visible again at the end
        self.scanned = 0
        self.seen: set[str] = set()  # MessageIds looked at by this run

    async def run(self, limit: int | None) -> RedriveReport:
        started = time.monotonic()
        try:
            while (
                (limit is None or len(self.report.moved) < limit)
                and self.scanned < MAX_SCAN
                and time.monotonic() - started < RECEIVE_FOR_S
            ):
                received = await self._receive()
                fresh = [(raw, msg) for raw, msg in received if msg.message_id not in self.seen]
                self.left += [msg for _, msg in received if msg.message_id in self.seen]
                if not fresh:
                    break  # empty, or only what this run already looked at
                self.seen.update(msg.message_id for _, msg in fresh)
                self.scanned += len(fresh)
                movable = self._sort(fresh, limit)
                if movable:
                    await self._move(movable)
        finally:
            await self._show_again(self.left)
        return self.report

    def _sort(self, received: list[Raw], limit: int | None) -> list[Raw]:
        """Report and set aside what stays; return what moves."""
        movable: list[Raw] = []
        for raw, msg in received:
            if limit is not None and len(self.report.moved) + len(movable) >= limit:
                self.left.append(msg)
            elif (problem := self._problem(msg)) is not None:
                self.report.kept.append((msg.job_id, problem))
                self.left.append(msg)
            elif self.dry_run:
                self.report.moved.append(msg.job_id)
                self.left.append(msg)
            else:
                movable.append((raw, msg))
        return movable

    def _problem(self, msg: Received) -> str | None:
        """Why ``msg`` cannot go back to the target queue, or None."""
        source = msg.attributes.get(A_SOURCE)
        if source and source != self.target:
            return f"dead-lettered from queue {source!r}, not {self.target!r}"
        data, error = msg.data()
        if error is not None:
            return f"the job's data cannot be read: {error.message:.200}"
        return self.validate(data)

    async def _receive(self) -> list[Raw]:
        client = self.calls.client
        wait = min(1, self.calls.url.wait_seconds_max)

        def receive(url: str) -> list[Any]:
            reply = client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=SQS_MAX_BATCH,
                WaitTimeSeconds=wait,
                VisibilityTimeout=HIDE_S,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
            )
            return list(reply.get("Messages", []))

        messages = await self.calls.on_queue(self.dead_letter, receive)
        return [(raw, Received.from_boto(raw)) for raw in messages]

    async def _move(self, movable: list[Raw]) -> None:
        sent: list[Received] = []
        for raw, msg in movable:
            params = redrive_params(raw, msg, self.target)

            def send(url: str, params: dict[str, Any] = params) -> str:
                return str(self.calls.client.send_message(QueueUrl=url, **params)["MessageId"])

            try:
                message_id = await self.calls.on_queue(self.target, send)
            except Exception as exc:
                self.report.kept.append((msg.job_id, f"sending it back failed: {exc}"))
                self.left.append(msg)
                continue
            sent.append(msg)
            self.report.moved.append(msg.attributes.get(A_JOB_ID) or message_id)
        for i in range(0, len(sent), SQS_MAX_BATCH):
            await self._delete(sent[i : i + SQS_MAX_BATCH])

    async def _delete(self, msgs: list[Received]) -> None:
        entries: Any = [
            {"Id": str(i), "ReceiptHandle": m.receipt_handle} for i, m in enumerate(msgs)
        ]

        def delete(url: str) -> list[Any]:
            reply = self.calls.client.delete_message_batch(QueueUrl=url, Entries=entries)
            return list(reply.get("Failed", []))

        try:
            failed = await self.calls.on_queue(self.dead_letter, delete)
        except Exception as exc:
            failed = [{"Id": str(i), "Message": str(exc)} for i in range(len(msgs))]
        for entry in failed:
            msg = msgs[int(entry["Id"])]
            log.warning(
                "job %s was sent back to %s but its dead letter could not be deleted (%s); it "
                "shows again in %s in %d s and a later redrive sends it twice",
                msg.job_id,
                self.target,
                entry.get("Message", entry.get("Code", "")),
                self.dead_letter,
                HIDE_S,
                extra={"queue": self.dead_letter, "job_id": msg.job_id},
            )

    async def _show_again(self, msgs: list[Received]) -> None:
        """Visibility 0 for the dead letters this run leaves behind (best effort: otherwise
        they show again after :data:`HIDE_S`)."""
        for i in range(0, len(msgs), SQS_MAX_BATCH):
            chunk = msgs[i : i + SQS_MAX_BATCH]
            entries: Any = [
                {"Id": str(n), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0}
                for n, m in enumerate(chunk)
            ]

            def change(url: str, entries: Any = entries) -> None:
                self.calls.client.change_message_visibility_batch(QueueUrl=url, Entries=entries)

            try:
                await self.calls.on_queue(self.dead_letter, change)
            except Exception as exc:
                log.warning(
                    "redrive: %d dead letter(s) of %s stay hidden for up to %d s: %s",
                    len(chunk),
                    self.dead_letter,
                    HIDE_S,
                    exc,
                    extra={"queue": self.dead_letter},
                )

"""The operator API of the SQS backend (issue 14), mixed into :class:`.SqsBackend`.

What SQS can show and do, and nothing more (the capability table says the same):

- ``counts``: the queue's ``ApproximateNumberOfMessages`` (waiting), ``...NotVisible`` (active:
  received and not yet deleted, which includes jobs waiting out a retry backoff, since a retry
  hides the message) and ``...Delayed`` (delayed), and, for a queue with a ``dead_letter``, the
  dead-letter queue's depth as ``failed`` (every message in it, whichever queue it came from).
  SQS keeps no finished messages: completed, discarded and cancelled are ``unknown``, and so
  is failed without a dead-letter queue. Every number is an estimate (``approximate``).
- ``pause`` / ``resume`` / ``is_paused``: the queue tag of :mod:`.pause`.
- ``redrive``: :mod:`.redrive`.
- Listing jobs, cancel, retry, clean, retention by age and workers raise
  ``UnsupportedByBackend`` with the table's reason (``UnsupportedOps``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from qgen.runtime.backends.ops import QueueCounts, RedriveReport, Validate
from qgen.runtime.backends.sqs.pause import read_paused, write_paused
from qgen.runtime.backends.sqs.redrive import Redrive
from qgen.runtime.backends.sqs.transport import SqsCalls
from qgen.runtime.backends.unsupported import UnsupportedOps
from qgen.runtime.settings import SettingsBook

WAITING = "ApproximateNumberOfMessages"
ACTIVE = "ApproximateNumberOfMessagesNotVisible"
DELAYED = "ApproximateNumberOfMessagesDelayed"
_NEVER_KEPT = frozenset({"completed", "discarded", "cancelled"})


async def _depths(calls: SqsCalls, queue: str) -> dict[str, int]:
    """The approximate message counts of ``queue`` (0 for an attribute SQS leaves out)."""

    names: Any = [WAITING, ACTIVE, DELAYED]

    def read(url: str) -> dict[str, str]:
        reply = calls.client.get_queue_attributes(QueueUrl=url, AttributeNames=names)
        attrs: Any = reply.get("Attributes") or {}
        return {str(k): str(v) for k, v in attrs.items()}

    attrs = await calls.on_queue(queue, read)
    return {name: int(attrs.get(name, 0) or 0) for name in (WAITING, ACTIVE, DELAYED)}


class SqsOps(UnsupportedOps):
    calls: SqsCalls
    settings: SettingsBook

    async def counts(self, queue: str) -> QueueCounts:
        dead_letter = self.settings[queue].dead_letter
        own, paused = await asyncio.gather(
            _depths(self.calls, queue), read_paused(self.calls, queue)
        )
        failed = 0
        unknown = set(_NEVER_KEPT)
        if dead_letter:
            failed = sum((await _depths(self.calls, dead_letter)).values())
        else:
            unknown.add("failed")
        return QueueCounts(
            waiting=own[WAITING],
            delayed=own[DELAYED],
            active=own[ACTIVE],
            failed=failed,
            paused=paused,
            approximate=True,
            unknown=frozenset(unknown),
        )

    async def pause(self, queue: str) -> None:
        await write_paused(self.calls, queue, True)

    async def resume(self, queue: str) -> None:
        await write_paused(self.calls, queue, False)

    async def is_paused(self, queue: str) -> bool:
        return await read_paused(self.calls, queue)

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        run = Redrive(self.calls, dead_letter_queue, target_queue, validate, dry_run)
        return await run.run(limit)

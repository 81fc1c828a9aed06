"""Schedule ticks on SQS, once per tick on standard queues too: a claim queue in front.

SQS cannot deduplicate a standard queue, so the workers do not send ticks to the target queue
directly. Each worker sends its claim of a tick to one FIFO queue, ``<prefix>qgen-schedule-
ticks.fifo``, with the tick's job id (hashed with the queue) as ``MessageDeduplicationId``:
SQS keeps one claim however many workers send it. Every worker also polls that queue; the one
that receives a claim adds the tick's job to its target queue and hides the claim (visibility
1 h) instead of deleting it, and the claim queue's retention (6 minutes) removes it after
the 5-minute deduplication window. A hidden claim also keeps a test server that deduplicates
only against messages still stored (moto) honest.

At least once, not exactly once, when a worker dies between adding the job and hiding the claim:
the claim comes back after 30 s and is forwarded again. ``qgen setup`` creates the claim queue
when the build has schedules (:func:`provision_claim_queue`); a worker looks it up and creates
it only when missing. When it can be neither found nor created (no ``sqs:CreateQueue``
permission and no setup), ticks are sent to the target queue directly and a warning says so
(then standard queues get one job per worker process and tick).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.sqs.provision import ensure_one
from qgen.runtime.backends.sqs.transport import SqsCalls, make_client
from qgen.runtime.backends.sqs.url import SqsUrl

if TYPE_CHECKING:
    from qgen.runtime.backends.sqs.provision import Attrs

Enqueue = Callable[[str, Any, AddOptions], Awaitable[str]]

log = logging.getLogger("qgen.schedules")
CLAIMS = "qgen-schedule-ticks.fifo"  # a reserved queue name (the URL's prefix is prepended)
CLAIM_VISIBILITY_S = 30  # a claim whose forwarder died comes back after this
HIDE_S = 3_600  # a forwarded claim stays hidden until retention removes it (or is stale)
RETENTION_S = 360  # longer than SQS's 5-minute deduplication window
WAIT_S = 1  # long poll of the claim queue


def claim_attributes() -> Attrs:
    """The claim queue's attributes, the same from ``qgen setup`` and from a worker that
    creates it (``FifoQueue`` is added at creation, for the ``.fifo`` name)."""
    return {
        "VisibilityTimeout": str(CLAIM_VISIBILITY_S),
        "MessageRetentionPeriod": str(RETENTION_S),
    }


def provision_claim_queue(url: SqsUrl) -> str:
    """``qgen setup`` for a project with schedules: create the claim queue, or set the relay's
    attributes on the one there; its SQS URL. ConfigError: a prefix too long for its name."""
    name = url.sqs_name(CLAIMS)
    client = make_client(url)
    try:
        return ensure_one(client, name, claim_attributes())
    finally:
        client.close()


class TickRelay:
    def __init__(self, calls: SqsCalls, enqueue: Enqueue) -> None:
        self.calls = calls
        self.enqueue = enqueue  # the backend's add: the forwarded job, by id
        self.claims_url: str | None = None

    async def start(self) -> None:
        """Find the claim queue (``qgen setup`` makes it) or create it; without it, ticks go to
        their queues directly."""
        name = self.calls.url.prefix + CLAIMS
        try:
            name = self.calls.url.sqs_name(CLAIMS)  # ConfigError: a prefix too long for it
            # Looked up first: a worker without sqs:CreateQueue uses the queue setup made.
            found = await self.calls.run(
                ensure_one, self.calls.client, name, claim_attributes(), update=False
            )
            self.claims_url = str(found)
        except Exception as exc:
            log.warning(
                "schedules: cannot create the SQS claim queue %s (%s: %s); ticks are sent "
                "directly: once per tick on FIFO queues, once per worker on standard ones",
                name,
                type(exc).__name__,
                exc,
            )

    async def fire(self, queue: str, data: Any, job_id: str) -> None:
        if self.claims_url is None:
            await self.enqueue(queue, data, AddOptions(job_id=job_id))
            return
        body = json.dumps({"queue": queue, "job_id": job_id, "data": data}, allow_nan=False)
        dedup = hashlib.sha256(f"{queue}\0{job_id}".encode()).hexdigest()
        await self.calls.run(
            self.calls.client.send_message,
            QueueUrl=self.claims_url,
            MessageBody=body,
            MessageGroupId=dedup,  # one group per claim: no claim waits for another
            MessageDeduplicationId=dedup,
        )

    async def relay_once(self) -> int:
        """Receive claims (waiting up to WAIT_S), add their jobs, hide them; how many."""
        if self.claims_url is None:
            return 0
        reply = await self.calls.run(
            self.calls.client.receive_message,
            QueueUrl=self.claims_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=WAIT_S,
            VisibilityTimeout=CLAIM_VISIBILITY_S,
            AttributeNames=["SentTimestamp"],
        )
        messages = reply.get("Messages", [])
        for msg in messages:
            sent = int(msg.get("Attributes", {}).get("SentTimestamp", "0"))
            if sent and time.time() * 1000 - sent > RETENTION_S * 1000:
                # kept past its retention (it should not be): never forward a stale claim
                await self._settle(msg["ReceiptHandle"], delete=True)
                continue
            claim = json.loads(msg["Body"])
            options = AddOptions(job_id=claim["job_id"])
            await self.enqueue(claim["queue"], claim["data"], options)
            await self._settle(msg["ReceiptHandle"], delete=False)
        return len(messages)

    async def _settle(self, receipt: str, *, delete: bool) -> None:
        client = self.calls.client
        if delete:
            await self.calls.run(
                client.delete_message, QueueUrl=self.claims_url, ReceiptHandle=receipt
            )
            return
        await self.calls.run(
            client.change_message_visibility,
            QueueUrl=self.claims_url,
            ReceiptHandle=receipt,
            VisibilityTimeout=HIDE_S,
        )

"""The AWS SQS backend (boto3): ``sqs://<region>?endpoint_url=...&prefix=...`` (see url.py).

What SQS can and cannot do shapes this backend (capabilities.py says the same):

- Sending: the body is the job's JSON data (jobs.py); the size is checked in UTF-8
  bytes before sending (``PayloadTooLarge``); delays are whole seconds up to 900
  (``DelayTooLong`` above); ``add_many`` sends batches of up to 10 and checks every entry.
- FIFO queues (``.fifo`` names): MessageGroupId is the ``group`` add option (default one group,
  so strict order), MessageDeduplicationId the ``job_id``. Standard queues ignore ``job_id``
  for deduplication: SQS cannot look a message up by id.
- Status and results: SQS keeps nothing about a message once sent except the message, and
  deletes it when done, so ``get`` answers ``unknown`` and ``wait`` (``result()``) raises
  ``UnsupportedByBackend``.
- Final failures: the worker sends a copy to the ``dead_letter`` queue itself and deletes the
  original, so a job whose input fails validation reaches the dead-letter queue at once. The
  redrive policy (``provision``) remains the safety net for workers that die on the last
  attempt: SQS moves such a message once it was received ``attempts`` times.
- Attempts are receives (ApproximateReceiveCount): a message given back at shutdown, or held
  by a worker that died, used one. A per-job ``attempts`` above the queue's is capped by the
  queue's redrive policy (maxReceiveCount) when there is one. ``priority`` is ignored.
- The operator API (counts, pause, redrive; the rest refused with the table's reason) is in
  :mod:`.ops`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar, Self, TypeVar

from qgen.runtime.backends.base import AddOptions, Handler, JobInfo, JobStatus, Provisioned
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.backends.sqs.consumer import SqsLane, SqsNative
from qgen.runtime.backends.sqs.jobs import Outgoing, encode, message_size
from qgen.runtime.backends.sqs.lambda_events import LambdaBatch
from qgen.runtime.backends.sqs.ops import SqsOps
from qgen.runtime.backends.sqs.provision import check_queues, create_queues, ensure_queues
from qgen.runtime.backends.sqs.schedules import TickRelay, provision_claim_queue
from qgen.runtime.backends.sqs.transport import SqsCalls
from qgen.runtime.backends.sqs.url import SQS_MAX_BATCH, SqsUrl, parse_sqs_url
from qgen.runtime.errors import ConfigError, QgenError, UnsupportedByBackend
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs, QueueSettings, SettingsBook, for_backend

log = logging.getLogger("qgen.sqs")
T = TypeVar("T")

NO_RESULTS = (
    "results or final status: SQS deletes a message once it is processed and keeps no result; "
    "store results yourself (for example in your database) or use another backend"
)


class SqsBackend(SqsOps):
    name: ClassVar[str] = "sqs"

    def __init__(self, url: SqsUrl, queues: QueueConfigs) -> None:
        self.url = url
        self.settings = SettingsBook(queues, self.name)
        self.calls = SqsCalls(url, threads=8 + 2 * len(queues))
        if url.create:
            self.calls.create = self.create_queues

    @classmethod
    async def connect(cls, url: str, queues: QueueConfigs) -> Self:
        parsed = parse_sqs_url(url)
        backend = cls(parsed, queues)
        check_queues(parsed, backend.settings.known())
        if parsed.create:
            await backend.create_queues()
        return backend

    @classmethod
    async def provision(
        cls, url: str, queues: QueueConfigs, *, schedules: Sequence[Schedule] = ()
    ) -> Provisioned:
        """Create or update every queue, its dead-letter queue and redrive policy, and with
        schedules the claim queue their ticks go through (:mod:`.schedules`)."""
        parsed = parse_sqs_url(url)
        known = SettingsBook(queues, cls.name).known()
        if not known:
            raise ConfigError("no queues to create: run `qgen build` in the project first")
        urls = await asyncio.to_thread(create_queues, parsed, known)
        notes: list[str] = []
        if schedules:
            try:
                urls.append(await asyncio.to_thread(provision_claim_queue, parsed))
            except ConfigError as exc:  # the workers fall back the same way, with a warning
                notes.append(
                    f"warning: no schedule claim queue ({exc}); workers send ticks "
                    "directly: once per worker process and tick on standard queues"
                )
        return Provisioned(f"{len(urls)} SQS queue(s) ready", (*urls, *notes))

    async def close(self) -> None:
        self.calls.close()

    async def create_queues(self) -> list[str]:
        known = self.settings.known()
        urls = await self.calls.run(ensure_queues, self.calls.client, self.url, known)
        for name in known:
            self.calls.forget(name)
        return urls

    def tick_relay(self) -> TickRelay:
        """Schedule ticks through a FIFO claim queue: once per tick (see :mod:`.schedules`)."""
        return TickRelay(self.calls, self.enqueue)

    # -- sending ------------------------------------------------------------------------------

    def unreachable(self, exc: BaseException) -> bool:
        return False  # its calls raise BackendUnavailable themselves (transport.sqs_error)

    async def enqueue(self, queue: str, data: Any, options: AddOptions) -> str:
        out = encode(queue, data, options, max_bytes=self.url.max_message_bytes)

        def send(url: str) -> str:
            sent = self.calls.client.send_message(QueueUrl=url, **out.params)
            return out.job_id or sent["MessageId"]

        return await self.calls.on_queue(queue, send)

    async def enqueue_many(self, queue: str, items: Sequence[tuple[Any, AddOptions]]) -> list[str]:
        # Encode everything first: one bad item raises before anything is sent.
        outs = [encode(queue, d, o, max_bytes=self.url.max_message_bytes) for d, o in items]
        ids: list[str] = []
        for chunk in _chunks(outs, self.url.max_message_bytes):
            ids.extend(
                await self.calls.on_queue(queue, functools.partial(self._send_batch, chunk=chunk))
            )
        return ids

    def _send_batch(self, url: str, *, chunk: list[Outgoing]) -> list[str]:
        entries: list[Any] = [{"Id": str(i), **o.params} for i, o in enumerate(chunk)]
        ids: dict[int, str] = {}
        for _ in range(3):  # entries failing for a server-side reason are sent again
            reply = self.calls.client.send_message_batch(QueueUrl=url, Entries=entries)
            for ok in reply.get("Successful", []):
                i = int(ok["Id"])
                ids[i] = chunk[i].job_id or ok["MessageId"]
            failed = reply.get("Failed", [])
            if not failed:
                break
            if any(f.get("SenderFault") for f in failed):
                raise QgenError(
                    f"SQS refused {len(failed)} of {len(entries)} messages: "
                    + "; ".join(
                        f"#{f['Id']}: {f.get('Code')} {f.get('Message', '')}" for f in failed
                    )
                    + f" (sent: {len(ids)})"
                )
            retry = {f["Id"] for f in failed}
            entries = [e for e in entries if e["Id"] in retry]
        if len(ids) != len(chunk):
            raise QgenError(f"SQS did not accept {len(chunk) - len(ids)} messages of a batch")
        return [ids[i] for i in range(len(chunk))]

    # -- reading --------------------------------------------------------------------------------

    async def get(self, queue: str, job_id: str) -> JobInfo | None:
        """SQS cannot look a message up by id: the status is always ``unknown``."""
        attempts = self.settings[queue].attempts
        return JobInfo(id=job_id, queue=queue, status=JobStatus.UNKNOWN, max_attempts=attempts)

    async def wait(self, queue: str, job_id: str, timeout: float | None) -> JobInfo:
        raise UnsupportedByBackend("sqs", NO_RESULTS)

    async def run_lambda_event(
        self, event: Mapping[str, Any], handle: Handler, queues: Collection[str]
    ) -> dict[str, Any]:
        """Run the records of an AWS Lambda SQS event (see :mod:`.lambda_events`)."""
        return await LambdaBatch(self.calls, self.settings, handle, queues).run(event)

    # -- consuming -------------------------------------------------------------------------------

    def consume(
        self, queues: Sequence[QueueSettings], handle: Handler
    ) -> ConsumerSkeleton[SqsLane]:
        queues = for_backend(queues, self.name)
        for settings in queues:
            self.settings.learn(settings)
        check_queues(self.url, {s.name: s for s in queues})
        return ConsumerSkeleton(SqsNative(self.calls), queues, handle)


def _chunks(outs: list[Outgoing], max_bytes: int) -> list[list[Outgoing]]:
    """Batches of at most 10 messages whose total size stays within the message size limit
    (SQS applies the same limit to a whole SendMessageBatch)."""
    chunks: list[list[Outgoing]] = []
    current: list[Outgoing] = []
    size = 0
    for out in outs:
        n = message_size(out.params["MessageBody"], out.params.get("MessageAttributes", {}))
        if current and (len(current) == SQS_MAX_BATCH or size + n > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(out)
        size += n
    if current:
        chunks.append(current)
    return chunks

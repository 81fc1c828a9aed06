"""Creating the SQS queues of a project: each queue, its dead-letter queue and redrive policy.

Idempotent: an existing queue keeps its messages and gets its visibility timeout and redrive
policy updated to the config; a missing one is created. Run by ``qgen setup`` (alias
``qgen sqs create-queues``, through ``SqsBackend.provision``) and by a worker whose URL says
``create=1``.

Redrive: ``attempts`` becomes ``maxReceiveCount``, so a message that was received ``attempts``
times without being deleted (its worker died on the last attempt) is moved to the dead-letter
queue by SQS itself. Jobs that fail for good while a worker is alive are copied to the
dead-letter queue by the worker and deleted which also covers input that
fails validation on its first attempt (see ``outcomes.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from qgen.runtime.backends.sqs.transport import is_missing_queue, make_client
from qgen.runtime.backends.sqs.url import SQS_MAX_VISIBILITY_S, SqsUrl, is_fifo
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import QueueSettings

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

    Attrs = dict[QueueAttributeNameType, str]

log = logging.getLogger("qgen.sqs")

DLQ_RETENTION_S = 1_209_600  # 14 days, SQS's maximum: dead letters wait for a human


def check_queues(url: SqsUrl, queues: Mapping[str, QueueSettings]) -> None:
    """Raise ConfigError for names SQS refuses and dead-letter pairs SQS cannot redrive."""
    problems: list[str] = []
    for name, settings in sorted(queues.items()):
        try:
            url.sqs_name(name)
        except ConfigError as exc:
            problems.append(str(exc))
        dead = settings.dead_letter
        if dead:
            try:
                url.sqs_name(dead)
            except ConfigError as exc:
                problems.append(str(exc))
            if is_fifo(name) != is_fifo(dead):
                problems.append(
                    f"queue {name!r}: its dead_letter {dead!r} must be a "
                    f"{'FIFO' if is_fifo(name) else 'standard'} queue too (an SQS rule)"
                )
    if problems:
        raise ConfigError("; ".join(problems))


def max_receive_count(settings: QueueSettings) -> int:
    return max(1, min(1000, settings.attempts))


def create_queues(url: SqsUrl, queues: Mapping[str, QueueSettings]) -> list[str]:
    """Create or update every queue of ``queues`` and every dead-letter queue they name, on a
    client of its own; returns their SQS queue URLs, sorted by qgen name."""
    client = make_client(url)
    try:
        return ensure_queues(client, url, queues)
    finally:
        client.close()


def ensure_queues(client: SQSClient, url: SqsUrl, queues: Mapping[str, QueueSettings]) -> list[str]:
    """Create or update every queue of ``queues`` and every dead-letter queue they name;
    returns their SQS queue URLs, sorted by qgen name."""
    check_queues(url, queues)
    dead = {settings.dead_letter for settings in queues.values() if settings.dead_letter}
    urls: dict[str, str] = {}
    for name in sorted(set(queues) | dead):
        attrs: Attrs = {}
        if name in queues:
            vis = int(queues[name].visibility_timeout)
            attrs["VisibilityTimeout"] = str(max(0, min(SQS_MAX_VISIBILITY_S, vis)))
        if name in dead and name not in queues:
            attrs["MessageRetentionPeriod"] = str(DLQ_RETENTION_S)
        urls[name] = ensure_one(client, url.sqs_name(name), attrs)
    for name, settings in sorted(queues.items()):
        target = settings.dead_letter
        if not target:
            continue
        arn = client.get_queue_attributes(QueueUrl=urls[target], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        policy = {"deadLetterTargetArn": arn, "maxReceiveCount": max_receive_count(settings)}
        client.set_queue_attributes(
            QueueUrl=urls[name], Attributes={"RedrivePolicy": json.dumps(policy)}
        )
    return [urls[n] for n in sorted(urls)]


def ensure_one(client: SQSClient, sqs_name: str, attrs: Attrs, *, update: bool = True) -> str:
    """The URL of the queue ``sqs_name``, created with ``attrs`` when missing (``FifoQueue``
    added for a ``.fifo`` name); an existing queue gets ``attrs`` set unless not ``update``
    (then no right beyond ``sqs:GetQueueUrl`` is needed when the queue exists)."""
    try:
        found = client.get_queue_url(QueueName=sqs_name)["QueueUrl"]
    except Exception as exc:
        if not is_missing_queue(exc):
            raise
    else:
        if attrs and update:
            client.set_queue_attributes(QueueUrl=found, Attributes=attrs)
        return found
    create: Attrs = dict(attrs)
    if is_fifo(sqs_name):
        create["FifoQueue"] = "true"
    log.info("creating SQS queue %s", sqs_name, extra={"queue": sqs_name})
    try:
        created: str = client.create_queue(QueueName=sqs_name, Attributes=create)["QueueUrl"]
    except Exception as exc:  # another process created it first with other attributes
        if "QueueAlreadyExists" not in str(exc) and "QueueNameExists" not in str(exc):
            raise
        created = client.get_queue_url(QueueName=sqs_name)["QueueUrl"]
        if attrs and update:
            client.set_queue_attributes(QueueUrl=created, Attributes=attrs)
    return created

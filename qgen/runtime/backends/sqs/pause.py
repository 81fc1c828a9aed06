"""A paused SQS queue: the queue tag ``qgen:paused`` (value ``1``), set by ``pause()`` and
removed by ``resume()`` (TagQueue / UntagQueue). SQS has no paused state of its own; a tag is
the one place on the queue itself that every worker process can read (ListQueueTags) without
receiving, and so without hiding, any message.

Each worker reads it at most once per ``pause_check`` seconds (an ``sqs://`` URL parameter,
default 10) and per ``poll_interval``, before a receive and when a long poll returns messages (a
poll that was waiting when the queue was paused gives back what it brings). AWS limits tagging
requests, ListQueueTags included, to about 5 a second per account: a worker that is throttled
doubles its period (up to 16 times), logs it once, and comes back down slowly. Workers need
``sqs:ListQueueTags`` (and operators ``sqs:TagQueue`` / ``sqs:UntagQueue``); a worker refused
the read logs it once and runs as if the queue were not paused. The Lambda host does not read
it: disable the event source mapping to pause a Lambda consumer.
"""

from __future__ import annotations

from qgen.runtime.backends.sqs.transport import SqsCalls, error_code

PAUSED_TAG = "qgen:paused"
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
THROTTLED_CODES = frozenset({"RequestThrottled", "Throttling", "ThrottlingException"})
SLOWEST = 16  # a throttled worker reads the tag at most this many times less often


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in ACCESS_DENIED_CODES


def is_throttled(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLED_CODES


async def read_paused(calls: SqsCalls, queue: str) -> bool:
    """Whether ``queue`` carries the paused tag (a missing queue raises ConfigError)."""

    def read(url: str) -> bool:
        tags = calls.client.list_queue_tags(QueueUrl=url).get("Tags") or {}
        return PAUSED_TAG in tags

    return await calls.on_queue(queue, read)


async def write_paused(calls: SqsCalls, queue: str, paused: bool) -> None:
    """Tag (``paused``) or untag ``queue``; both are idempotent."""

    def write(url: str) -> None:
        if paused:
            calls.client.tag_queue(QueueUrl=url, Tags={PAUSED_TAG: "1"})
        else:
            calls.client.untag_queue(QueueUrl=url, TagKeys=[PAUSED_TAG])

    await calls.on_queue(queue, write)

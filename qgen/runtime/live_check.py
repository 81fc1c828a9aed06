"""``qgen check --url`` (issue 18, item 3): the jobs still queued in a live backend, checked
against this build's input types before a deploy.

Every job waiting or delayed (which includes jobs waiting out a retry backoff) is listed through
the operator API (``jobs()`` of the generated client, newest first, page by page) and its stored
data validated with the build's generated input model, the same pydantic validation the worker
runs. Per queue: how many were checked, how many would fail, and one example (the newest),
with the error, the schema lock's "likely made by schema version N" sentence when the manifest
has the lock's summary, and the payload cut to :data:`EXAMPLE_CHARS` characters.

A backend that cannot list jobs (SQS: messages cannot be read without receiving them, which
hides them from the workers; messages in flight cannot be seen at all) raises
``UnsupportedByBackend`` with the capability table's reason; nothing is consumed.
:func:`unchecked` then tells how many jobs each queue holds, where the backend can count them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from qgen.runtime.backends.base import JobStatus
from qgen.runtime.backends.ops import QueueCounts
from qgen.runtime.capabilities import Feature, supports
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.jobviews import JobView
from qgen.runtime.schema_changes import SchemaHistory, hint

CHECKED = (JobStatus.WAITING, JobStatus.DELAYED)
PAGE = 1000
EXAMPLE_CHARS = 200  # of the payload shown
ERROR_CHARS = 600  # of the error shown (the lock's sentence included)


@dataclass(frozen=True, slots=True)
class Example:
    """One job that would fail: its id, status, error and payload (cut, ASCII JSON)."""

    job_id: str
    status: str
    error: str
    payload: str


@dataclass(slots=True)
class QueueCheck:
    """What one queue holds: jobs checked per status, how many would fail, one example."""

    queue: str
    checked: dict[str, int] = field(default_factory=dict)
    failing: int = 0
    example: Example | None = None

    @property
    def total(self) -> int:
        return sum(self.checked.values())


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def payload_text(data: Any) -> str:
    """The payload as one line of ASCII JSON (control characters escaped), cut."""
    try:
        text = json.dumps(data, ensure_ascii=True, sort_keys=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        text = ascii(data)
    return cut(text, EXAMPLE_CHARS)


async def check_queue(
    client: AsyncClientBase, queue: str, history: SchemaHistory | None = None
) -> QueueCheck:
    """Validate every waiting and delayed job of ``queue`` (UnsupportedByBackend when the
    backend cannot list jobs)."""
    result = QueueCheck(queue)
    q = client.queue(queue)
    for status in CHECKED:
        count = 0
        cursor: str | None = None
        while True:
            page = await q.jobs(status, PAGE, cursor)
            for view in page.jobs:
                count += 1
                if view.data_error is not None:
                    result.failing += 1
                    if result.example is None:
                        result.example = _example(client, view, history)
            cursor = page.next_cursor
            if cursor is None:
                break
        result.checked[status.value] = count
    return result


def _example(
    client: AsyncClientBase, view: JobView[Any, Any], history: SchemaHistory | None
) -> Example:
    error = view.data_error or ""
    try:
        client._adapters(view.queue).input.validate_python(view.raw_data)
    except ValidationError as exc:
        error += hint(view.queue, history, exc)
    except Exception:  # only the hint is lost
        pass
    return Example(view.id, view.status.value, cut(error, ERROR_CHARS), payload_text(view.raw_data))


async def check_queues(
    client: AsyncClientBase,
    queues: Sequence[str],
    histories: Mapping[str, SchemaHistory] | None = None,
) -> list[QueueCheck]:
    """:func:`check_queue` for each of ``queues``, in that order."""
    histories = histories or {}
    return [await check_queue(client, name, histories.get(name)) for name in queues]


async def unchecked(client: AsyncClientBase, queues: Sequence[str]) -> list[QueueCounts] | None:
    """Each queue's counts when jobs cannot be listed: what was left unchecked. None when the
    backend cannot count either."""
    if not supports(Feature.COUNTS, client.backend_name):
        return None
    return [await client.queue(name).counts() for name in queues]

"""Why a job no longer validates: the input changes recorded by the schema lock.

``qgen build`` writes, for a project with a ``qgen.lock.json``, a ``schema_lock`` section into
manifest.json: per queue the latest locked version and the input changes that break old jobs,
newest first (``version`` null: in the current build but not locked yet)::

    "schema_lock": {
      "payments": {
        "locked": 3,
        "breaking": [{"version": 3, "field": ["currency"],
                      "message": "field 'currency' became required"}]
      }
    }

When a job fails validation, the worker matches pydantic's error locations against those fields
and adds one sentence to the error: "this job was likely made by schema version 2 of queue
'payments'; changes since: field 'currency' became required (version 3)". The runtime reads
only this summary: it never imports the codegen package nor a JSON Schema validator.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from qgen.runtime.manifest import Manifest

log = logging.getLogger("qgen.worker")

SECTION = "schema_lock"
_SHOWN = 3  # changes listed in one message


class InputChange(BaseModel):
    """One input change that breaks old jobs."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    version: int | None  # the version that brought it; None: not locked yet
    field: tuple[str, ...]
    message: str


class SchemaHistory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")
    locked: int | None  # the latest locked version; None: the queue is not in the lock yet
    breaking: tuple[InputChange, ...] = ()  # newest first


def read_histories(manifest_path: Path) -> dict[str, SchemaHistory]:
    """The ``schema_lock`` section of a manifest; empty when it has none or cannot be read
    (it only adds a hint to errors, so it never stops a worker)."""
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8")).get(SECTION)
        if raw is None:
            return {}
        return {str(q): SchemaHistory.model_validate(h) for q, h in dict(raw).items()}
    except (OSError, ValueError, TypeError, AttributeError, ValidationError) as exc:
        log.warning("ignoring the schema_lock section of %s: %s", manifest_path, exc)
        return {}


class _Runner(Protocol):  # the runner's one attribute set here (the runner imports this module)
    schema_history: SchemaHistory | None


def attach(runners: Mapping[str, _Runner], manifest: Manifest | None) -> None:
    """Give each queue's runner its history (called once at worker start-up)."""
    if manifest is None:
        return
    histories = read_histories(manifest.path)
    for name, runner in runners.items():
        runner.schema_history = histories.get(name)


def hint(queue: str, history: SchemaHistory | None, error: ValidationError) -> str:
    """``"; this job was likely made by ..."`` for a job's validation error, or ``""``."""
    if history is None or not history.breaking:
        return ""
    locations = [tuple(e["loc"]) for e in error.errors(include_url=False)]
    return "; " + explain(queue, history, locations)


def explain(queue: str, history: SchemaHistory, locations: Sequence[Sequence[str | int]]) -> str:
    """A sentence naming the version a failing payload was likely made by, from the error
    ``locations`` (pydantic ``loc`` tuples or JSON Schema error paths)."""
    changes = list(history.breaking)
    hits = [c for c in changes if any(matches(c.field, loc) for loc in locations)]
    if not hits:
        return f"the input schema of queue {queue!r} changed since: {_listed(changes)}"
    oldest = hits[-1]  # a job failing on this change was made before it
    if oldest.version is None:
        made_by = history.locked
        since = [c for c in changes if c.version is None]
    else:
        made_by = oldest.version - 1
        since = [c for c in changes if c.version is None or c.version > made_by]
    return (
        f"this job was likely made by schema version {made_by} of queue {queue!r}; "
        f"changes since: {_listed(since)}"
    )


def matches(field: Sequence[str], loc: Sequence[str | int]) -> bool:
    """Does an error at ``loc`` fall under the changed ``field``? The field's segments must
    appear in order in the location (which may hold union member tags and go deeper)."""
    i = 0
    for segment in field:
        while i < len(loc) and not _same(segment, loc[i]):
            i += 1
        if i == len(loc):
            return False
        i += 1
    return True


def _same(segment: str, item: str | int) -> bool:
    if segment == "[]":
        return isinstance(item, int)
    if segment.startswith("[") and segment.endswith("]") and segment[1:-1].isdigit():
        return item == int(segment[1:-1])
    if segment in ("{}", "(keys)"):
        return isinstance(item, str)
    return item == segment


def _listed(changes: Sequence[InputChange]) -> str:
    parts = [
        f"{c.message} ({'not locked yet' if c.version is None else f'version {c.version}'})"
        for c in changes[:_SHOWN]
    ]
    more = f"; and {len(changes) - _SHOWN} more" if len(changes) > _SHOWN else ""
    return "; ".join(parts) + more

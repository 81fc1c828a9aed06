"""What the client does before anything is sent: validate job data into the queue's input type
(JSON-ready afterwards, by alias, as the JSON Schema says, and within the JSON rule of
json_rule.py, so a payload every backend stores alike) and normalize add options into
:class:`AddOptions`. A payload breaking the rule is refused before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.capabilities import Feature, feature
from qgen.runtime.config_keys import check_attempts, check_backoff, check_delay, check_priority
from qgen.runtime.errors import ConfigError, UnsupportedByBackend, ValidationFailed
from qgen.runtime.json_rule import input_problem, json_problem, needs_input_check
from qgen.runtime.names import validate_job_id

if TYPE_CHECKING:
    from qgen.runtime.options import BackoffConfig


class QueueTypes(Protocol):
    """What validation needs of a queue (``handles.QueueMeta`` has it; the client side imports
    this module, not the other way round)."""

    @property
    def name(self) -> str: ...

    @property
    def input_type(self) -> Any: ...

    @property
    def output_type(self) -> Any: ...


class Adapters:
    """TypeAdapters of one queue, built once per client."""

    def __init__(self, meta: QueueTypes) -> None:
        self.meta = meta
        self.input: TypeAdapter[Any] = TypeAdapter(meta.input_type)
        self.check_input = needs_input_check(self.input)
        self.has_result = meta.output_type is not None and meta.output_type is not type(None)
        self.output: TypeAdapter[Any] | None = (
            TypeAdapter(meta.output_type) if self.has_result else None
        )

    def prepare(self, data: Any) -> Any:
        """Validate ``data`` into the input type and return it JSON-ready.

        Accepted: an instance of the input type, plain data (dicts, lists, ...), or another
        pydantic model / dataclass of the same shape (compared through its JSON form).
        Raises ValidationFailed, also for data that breaks the JSON rule."""
        if self.check_input:  # ``Any`` fields dump NaN as null: look at what was given first
            problem = input_problem(data)
            if problem is not None:
                raise self._not_json(problem)
        try:
            value = self.input.validate_python(data)
        except ValidationError as first:
            try:
                jsonable = to_jsonable_python(data)
            except Exception:
                jsonable = data
            if jsonable == data:
                raise self._failed(first) from None
            try:
                value = self.input.validate_python(jsonable)
            except ValidationError as exc:
                raise self._failed(exc) from None
        try:
            out = self.input.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
        except Exception as exc:  # an object pydantic cannot serialize, a cycle, ...
            raise self._not_json(("data", f"cannot be serialized as JSON: {exc}")) from None
        problem = json_problem(out)
        if problem is not None:
            raise self._not_json(problem)
        return out

    def _not_json(self, problem: tuple[str, str]) -> ValidationFailed:
        where, what = problem
        error = {"loc": tuple(where.split(".")[1:]), "msg": what, "type": "json_invalid"}
        return ValidationFailed(self.meta.name, f"{where}: {what}", [error])

    def _failed(self, exc: ValidationError) -> ValidationFailed:
        errors = [dict(e) for e in exc.errors(include_url=False)]
        return ValidationFailed(self.meta.name, describe_validation_error(exc), errors)


def describe_validation_error(exc: ValidationError) -> str:
    """pydantic's errors on one line: ``loc: msg; ...`` (at most five, then a count)."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "data"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def add_options(
    *,
    job_id: str | None = None,
    delay: float | dt.timedelta | None = None,
    priority: int | None = None,
    attempts: int | None = None,
    backoff: BackoffConfig | Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> AddOptions:
    # Values are checked by config_keys, one place with the same limits as config.
    if job_id is not None:
        validate_job_id(job_id)
    seconds = 0.0 if delay is None else check_delay(delay)
    if priority is not None:
        check_priority(priority)
    if attempts is not None:
        check_attempts(attempts)
    norm_backoff = None
    if backoff is not None:
        norm_backoff, err = check_backoff(backoff)
        if err:
            raise ConfigError(err)
    return AddOptions(
        job_id=job_id,
        delay=seconds,
        priority=priority or 0,
        attempts=attempts,
        backoff=norm_backoff,
        extra=dict(extra or {}),
    )


# Backend-specific add options and the capability that honours each.
BACKEND_OPTIONS: dict[str, tuple[Feature, str]] = {
    "connection": (Feature.TRANSACTIONAL_ENQUEUE, "add(connection=...): transactional enqueue"),
    "group": (Feature.MESSAGE_GROUP, "add(group=...): message groups"),
}


def check_backend_options(backend: str, queue: str, **given: Any) -> dict[str, Any]:
    """The backend-specific options that were given (not None); refuses, before anything is
    written, one the backend cannot honour (the capability table decides; message groups
    exist on FIFO queues only, whose names end in ``.fifo``)."""
    extra = {name: value for name, value in given.items() if value is not None}
    for name in sorted(extra):
        feat, what = BACKEND_OPTIONS[name]
        support = feature(feat, backend)
        if not support.supported:
            raise UnsupportedByBackend(backend, f"{what} ({support.note})")
    group = extra.get("group")
    if group is not None:
        if not queue.endswith(".fifo"):
            raise UnsupportedByBackend(backend, f"add(group=...) on {queue!r}, not a FIFO queue")
        if not isinstance(group, str) or not 1 <= len(group) <= 128:
            raise ConfigError(f"group must be a string of 1 to 128 characters, not {group!r}")
    return extra

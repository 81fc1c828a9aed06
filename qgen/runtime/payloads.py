"""What the client does before anything is sent: validate job data into the queue's input type
(JSON-ready afterwards, by alias, as the JSON Schema says) and normalize add options into
:class:`AddOptions`.

The JSON rule (:func:`json_problem`), the same for payloads on every backend and for results
(the runner): JSON has no NaN or infinities; strings and keys hold no lone surrogates (not
UTF-8) and no NUL (PostgreSQL's ``jsonb`` cannot store it); nesting is at most
:data:`MAX_JSON_DEPTH` deep; integers have at most :data:`MAX_INT_DIGITS` digits (Python's own
JSON encoder refuses longer ones). A value breaking it is refused before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.config_keys import check_attempts, check_backoff, check_delay, check_priority
from qgen.runtime.errors import ConfigError, ValidationFailed
from qgen.runtime.names import validate_job_id

if TYPE_CHECKING:
    from qgen.runtime.client import QueueMeta
    from qgen.runtime.wiring import BackoffConfig


class Adapters:
    """TypeAdapters of one queue, built once per client."""

    def __init__(self, meta: QueueMeta) -> None:
        self.meta = meta
        self.input: TypeAdapter[Any] = TypeAdapter(meta.input_type)
        self.has_result = meta.output_type is not None and meta.output_type is not type(None)
        self.output: TypeAdapter[Any] | None = (
            TypeAdapter(meta.output_type) if self.has_result else None
        )

    def prepare(self, data: Any) -> Any:
        """Validate ``data`` into the input type and return it JSON-ready.

        Accepted: an instance of the input type, plain data (dicts, lists, ...), or another
        pydantic model / dataclass of the same shape (compared through its JSON form).
        Raises ValidationFailed, also for data that breaks the JSON rule."""
        # ``Any`` fields turn NaN into null when dumped: look at what the caller gave first.
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


MAX_JSON_DEPTH = 200  # below pydantic's own limits, far above real payloads
MAX_INT_DIGITS = 4000  # Python's JSON encoder refuses integers of more than 4300 digits
_MAX_INT = 10**MAX_INT_DIGITS
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


# A place in a value: (parent place, key), built as a chain and turned into text only for the
# message, so a large payload costs no string per element.
_Place = tuple[Any, Any] | None


def json_problem(value: Any, root: str = "data") -> tuple[str, str] | None:
    """(where, what) of the first break of the JSON rule in ``value`` (already dumped: dicts,
    lists, str, int, float, bool, None), or None. Iterative, so any depth is safe."""
    stack: list[tuple[Any, _Place, int]] = [(value, None, 0)]
    while stack:
        item, place, depth = stack.pop()
        what: str | None = None
        if isinstance(item, str):
            if _BAD_CHARS.search(item):
                what = _char_problem(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_MAX_INT < item < _MAX_INT:
                what = f"integer of more than {MAX_INT_DIGITS} digits"
        elif isinstance(item, float):
            if not math.isfinite(item):
                what = f"{item!r} is not a JSON number (no NaN or Infinity)"
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                what = f"nested deeper than {MAX_JSON_DEPTH} levels"
            elif isinstance(item, list):
                stack.extend((v, (place, i), depth + 1) for i, v in enumerate(item))
            else:
                for key, v in item.items():
                    if not isinstance(key, str):
                        what = f"key {key!r} is not a string"
                    elif _BAD_CHARS.search(key):
                        what = f"key {key!r} " + _char_problem(key)
                    if what is not None:
                        break
                    stack.append((v, (place, key), depth + 1))
        else:
            what = f"{type(item).__name__} is not a JSON value"
        if what is not None:
            return _where(place, root), what
    return None


def _where(place: _Place, root: str) -> str:
    keys: list[str] = []
    while place is not None:
        place, key = place
        keys.append(str(key))
    text = ".".join([root, *reversed(keys)])
    return text if len(text) <= 80 else f"{text[:40]}...{text[-36:]}"


def _char_problem(text: str) -> str:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which no backend stores alike"
    return "contains a lone surrogate, which is not valid UTF-8"


def input_problem(value: Any, root: str = "data") -> tuple[str, str] | None:
    """(where, what) of the first NaN, infinity, lone surrogate or NUL in a value as given
    (dicts, sequences, models, dataclasses), or of a nesting too deep to check; else None.
    Looked at before pydantic, whose ``Any`` dumps NaN as null and fails on surrogate keys."""
    stack: list[tuple[Any, _Place, int]] = [(value, None, 0)]
    while stack:
        item, place, depth = stack.pop()
        what: str | None = None
        if isinstance(item, float):
            if not math.isfinite(item):
                what = f"{item!r} is not a JSON number (no NaN or Infinity)"
        elif isinstance(item, str):
            if _BAD_CHARS.search(item):
                what = _char_problem(item)
        elif not isinstance(item, int | bytes | None):
            children = _children(item)
            if children is not None and depth >= MAX_JSON_DEPTH:
                what = f"nested deeper than {MAX_JSON_DEPTH} levels (or a cycle)"
            elif children is not None:
                for key, v in children:
                    if isinstance(key, str) and _BAD_CHARS.search(key):
                        what = f"key {key!r} " + _char_problem(key)
                        break
                    stack.append((v, (place, key), depth + 1))
        if what is not None:
            return _where(place, root), what
    return None


def _children(item: Any) -> list[tuple[Any, Any]] | None:
    if isinstance(item, Mapping):
        return list(item.items())
    if isinstance(item, list | tuple | set | frozenset):
        return list(enumerate(item))
    if isinstance(item, BaseModel):
        return [*vars(item).items(), *(item.__pydantic_extra__ or {}).items()]
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return [(f.name, getattr(item, f.name, None)) for f in dataclasses.fields(item)]
    return None


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

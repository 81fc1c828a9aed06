"""One schema change between the locked (old) and the current (new) schema of a queue side, and
the words used to describe it.

A change is a fact about the evolution (``field 'currency' became required``). Whether it breaks
anything depends on the side: on the input, old jobs must still validate with the new schema; on
the output, old callers must still read what the new worker returns. Each change carries both
verdicts, so the same comparison serves both sides and ``--explain``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Direction = Literal["input", "output"]
Schema = dict[str, Any]

# (breaks_input, breaks_output) of a change that makes the accepted set of values smaller,
# larger, or neither (different values on both sides).
NARROWER = (True, False)
WIDER = (False, True)
BOTH = (True, True)
NEITHER = (False, False)

# Codes of the rule table (docs/schema-lock.md). A change that breaks neither side has no code.
REQUIRED = "QG401"
REMOVED = "QG402"
TYPE = "QG403"
VALUES = "QG404"
CONSTRAINT = "QG405"
NULL = "QG406"
EXTRA = "QG407"
QUEUE_REMOVED = "QG408"
UNKNOWN = "QG409"


@dataclass(frozen=True, slots=True)
class At:
    """Where the comparison is: the field path, and the place in the new schema's source that
    holds it (a ``$defs`` name, None for the root, and the property of it)."""

    path: tuple[str, ...] = ()
    owner: str | None = None
    field: str | None = None

    def prop(self, name: str) -> At:
        return At((*self.path, name), self.owner, name)

    def part(self, segment: str) -> At:
        """Inside the current field: ``[]`` array items, ``[0]`` a tuple position, ``{}`` dict
        values, ``(keys)`` dict keys."""
        return At((*self.path, segment), self.owner, self.field)

    def into(self, definition: str) -> At:
        return At(self.path, definition, None)


@dataclass(frozen=True, slots=True)
class Change:
    code: str  # one of the codes above; "" when the change breaks neither side
    text: str  # what changed, old -> new
    breaks_input: bool
    breaks_output: bool
    at: At
    lifecycle: bool = False  # "field 'x' became required" rather than "field 'x': ..."

    def breaks(self, direction: Direction) -> bool:
        return self.breaks_input if direction == "input" else self.breaks_output

    def describe(self) -> str:
        if not self.at.path:
            return self.text
        label = field_label(self.at.path)
        return f"field {label!r} {self.text}" if self.lifecycle else f"field {label!r}: {self.text}"


def field_label(path: tuple[str, ...]) -> str:
    """``("lines", "[]", "sku")`` -> ``lines[].sku``."""
    out = ""
    for segment in path:
        if segment.startswith(("[", "{", "(")):
            out += segment
        else:
            out += f".{segment}" if out else segment
    return out


def show(value: Any) -> str:
    """A JSON value in a message, short and escaped."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def show_values(values: list[Any]) -> str:
    shown = ", ".join(show(v) for v in values[:5])
    more = f" and {len(values) - 5} more" if len(values) > 5 else ""
    return f"{'value' if len(values) == 1 else 'values'} {shown}{more}"


def show_types(types: frozenset[str] | None) -> str:
    return "any value" if types is None else " or ".join(sorted(types))


def as_schema(value: Any) -> Schema:
    """``true`` -> ``{}``; ``false`` -> a schema nothing matches; a dict as is."""
    if value is True:
        return {}
    if value is False:
        return {"not": {}}
    return dict(value) if isinstance(value, dict) else {}


class Comparer(Protocol):
    """What the keyword and object rules need of ``compare.Differ``, which calls them."""

    def add(
        self, at: At, code: str, text: str, verdict: tuple[bool, bool], *, lifecycle: bool = False
    ) -> None: ...

    def compare(self, old_ref: Schema, new_ref: Schema, at: At) -> None: ...

    def probe(self, old: Any, new: Any) -> list[Change]: ...

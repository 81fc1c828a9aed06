"""The JSON rule: what every backend stores alike, for payloads (client) and results (runner).

JSON has no NaN or infinities; strings and keys hold no lone surrogates (not UTF-8) and no NUL
(PostgreSQL's ``jsonb`` cannot store it); nesting is at most :data:`MAX_JSON_DEPTH` deep;
integers have at most :data:`MAX_INT_DIGITS` digits (Python's own JSON encoder refuses longer
ones). :func:`json_problem` checks dumped JSON: a fast yes/no pass on every value, then, only
for a value that breaks the rule, a second pass that says where.

pydantic dumps NaN inside ``Any`` (and custom serializers' output) as ``null`` without a word,
so :func:`input_problem` also looks at a value as given, for types where that can happen
(:func:`needs_input_check`, decided once per type).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter

MAX_JSON_DEPTH = 200  # below pydantic's own limits, far above real payloads
MAX_INT_DIGITS = 4000  # Python's JSON encoder refuses integers of more than 4300 digits
_MAX_INT = 10**MAX_INT_DIGITS
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


# A place in a value: (parent place, key), built as a chain and turned into text only for the
# message, so a large payload costs no string per element.
_Place = tuple[Any, Any] | None


def _locate(value: Any, root: str) -> tuple[str, str] | None:
    """(where, what) of the first break of the JSON rule in dumped JSON; iterative, so any
    depth is safe. Only called once :func:`_breaks` found one."""
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


def json_problem(value: Any, root: str = "data") -> tuple[str, str] | None:
    """(where, what) of the first break of the JSON rule in ``value`` (dumped JSON: dicts,
    lists, str, int, float, bool, None), or None."""
    if not _breaks(value, 0):
        return None
    return _locate(value, root) or (root, "is not JSON")


def _breaks(value: Any, depth: int) -> bool:
    """Whether ``value`` breaks the rule: the fast pass (scalars checked inline, recursion only
    into containers, never deeper than MAX_JSON_DEPTH)."""
    t = type(value)
    if t is dict:
        if depth >= MAX_JSON_DEPTH:
            return True
        for k in value:
            if type(k) is not str or ((not k.isascii() or "\x00" in k) and _BAD_CHARS.search(k)):
                return True
        return _any_breaks(value.values(), depth + 1)
    if t is list:
        return depth >= MAX_JSON_DEPTH or _any_breaks(value, depth + 1)
    return _any_breaks((value,), depth)


def _any_breaks(values: Any, depth: int) -> bool:
    for v in values:
        t = type(v)
        if t is str:
            if (not v.isascii() or "\x00" in v) and _BAD_CHARS.search(v):
                return True
        elif t is int:
            if not -_MAX_INT < v < _MAX_INT:
                return True
        elif t is float:
            if v - v != 0.0:  # NaN and the infinities
                return True
        elif t is dict or t is list:
            if _breaks(v, depth):
                return True
        elif not (v is None or t is bool):
            return True  # any other type: the second pass says what it is
    return False


def needs_input_check(adapter: TypeAdapter[Any]) -> bool:
    """Whether dumping values of this type may turn NaN into null silently: it holds ``Any``
    (or an unknown type) somewhere, or a custom serializer."""
    stack: list[Any] = [adapter.core_schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("any", "is-instance") or "serialization" in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
    return False

"""Objects: required fields, fields added and removed, extra keys (``additionalProperties``).

Objects are read the way qgen's client and worker write them: an object schema that declares
``properties`` and says nothing about extra keys is produced with its declared fields only (the
generated client and the worker dump the model), and accepts extra keys by ignoring them
(pydantic's default). ``additionalProperties: false`` (``extra="forbid"``) rejects extra keys;
``true`` or a schema (``extra="allow"``, a ``dict``) lets producers send any (such) key.

On the output side a field with a ``default`` counts as present: the worker dumps every field of
the model, defaults included, even though the validation schema does not list it as required.
"""

from __future__ import annotations

from typing import Any

from qgen.codegen.lock.changes import (
    EXTRA,
    REMOVED,
    REQUIRED,
    At,
    Comparer,
    Schema,
    as_schema,
    show,
)

KEYWORDS = frozenset(
    {"properties", "required", "additionalProperties", "patternProperties", "propertyNames"}
)
_NONE = "none"  # no extra keys (produced or accepted)
_ANY: dict[str, Any] = {}


def compare(differ: Comparer, old: Schema, new: Schema, at: At) -> None:
    old_p: dict[str, Any] = dict(old.get("properties") or {})
    new_p: dict[str, Any] = dict(new.get("properties") or {})
    old_r, new_r = set(old.get("required") or ()), set(new.get("required") or ())
    for name in sorted(old_p.keys() | new_p.keys() | old_r | new_r):
        here = at.prop(name)
        in_old, in_new = name in old_p or name in old_r, name in new_p or name in new_r
        o, n = _schema(old_p.get(name)), _schema(new_p.get(name))
        if in_old and in_new:
            _kept(differ, name, o, n, old_r, new_r, here)
            differ.compare(o, n, here)
        elif in_old:
            breaks_in = _rejects(differ, o, new, old_side=True)
            breaks_out = name in old_r
            differ.add(here, REMOVED, "removed", (breaks_in, breaks_out), lifecycle=True)
        elif name in new_r:
            differ.add(here, REQUIRED, "added as required", (True, False), lifecycle=True)
        else:
            breaks_in = _sends_other(differ, old, n)
            breaks_out = _rejects(differ, n, old, old_side=False)
            code = EXTRA if breaks_in or breaks_out else ""
            differ.add(here, code, "added", (breaks_in, breaks_out), lifecycle=True)
    _extra(differ, old, new, at)
    for key, part in (("propertyNames", "(keys)"), ("patternProperties", "{}")):
        if old.get(key) != new.get(key):
            _keyed(differ, key, old.get(key), new.get(key), at.part(part))


def _kept(
    differ: Comparer, name: str, o: Schema, n: Schema, old_r: set[str], new_r: set[str], at: At
) -> None:
    if name in new_r and name not in old_r:
        text = "lost its default and became required" if "default" in o else "became required"
        differ.add(at, REQUIRED, text, (True, False), lifecycle=True)
    elif name in old_r and name not in new_r:
        # Old callers require it; the worker still writes it when it has a default.
        differ.add(at, REMOVED, "became optional", (False, "default" not in n), lifecycle=True)
    elif "default" in o and "default" in n and o["default"] != n["default"]:
        text = f"default changed from {show(o['default'])} to {show(n['default'])}"
        differ.add(at, "", text, (False, False))
    elif "default" in o and "default" not in n:
        differ.add(at, "", f"default {show(o['default'])} removed", (False, False))


def _extra(differ: Comparer, old: Schema, new: Schema, at: At) -> None:
    a, b = old.get("additionalProperties"), new.get("additionalProperties")
    if a == b:
        return
    if a is not None and a is not False and b is not None and b is not False:
        differ.compare(as_schema(a), as_schema(b), at.part("{}"))
        return
    breaks_in = _refused(differ, _produced(old), _accepted(new), new_side_accepts=True)
    breaks_out = _refused(differ, _produced(new), _accepted(old), new_side_accepts=False)
    text = f"extra keys {_extra_word(old)} before, {_extra_word(new)} now"
    differ.add(at, EXTRA if breaks_in or breaks_out else "", text, (breaks_in, breaks_out))


def _extra_word(schema: Schema) -> str:
    value = schema.get("additionalProperties")
    if value is False:
        return "forbidden"
    if value is None:
        return "ignored" if "properties" in schema else "allowed"
    return "allowed"


def _produced(schema: Schema) -> Schema | str:
    """The schema of extra keys' values a producer of ``schema`` may send, or _NONE."""
    value = schema.get("additionalProperties")
    if value is False or (value is None and "properties" in schema):
        return _NONE
    return _ANY if value is None or value is True else dict(value)


def _accepted(schema: Schema) -> Schema | str:
    value = schema.get("additionalProperties")
    if value is False:
        return _NONE
    return _ANY if value is None or value is True else dict(value)


def _refused(
    differ: Comparer, produced: Schema | str, accepted: Schema | str, *, new_side_accepts: bool
) -> bool:
    if produced == _NONE or accepted == _ANY:
        return False
    if accepted == _NONE:
        return True
    assert isinstance(produced, dict) and isinstance(accepted, dict)
    if new_side_accepts:  # old producer, new acceptor: old values must fit the new schema
        return any(c.breaks_input for c in differ.probe(produced, accepted))
    return any(c.breaks_output for c in differ.probe(accepted, produced))


def _rejects(differ: Comparer, value: Schema, holder: Schema, *, old_side: bool) -> bool:
    """Does ``holder`` (the other side's object) refuse an extra key whose values follow
    ``value``? ``old_side``: ``value`` is from the old schema and ``holder`` the new one."""
    return _refused(differ, value, _accepted(holder), new_side_accepts=old_side)


def _sends_other(differ: Comparer, old: Schema, field: Schema) -> bool:
    """An old producer that may send extra keys may already have sent this new field's name
    with a value the new field refuses."""
    return _refused(differ, _produced(old), field, new_side_accepts=True)


def _keyed(differ: Comparer, key: str, old: Any, new: Any, at: At) -> None:
    from qgen.codegen.lock.changes import BOTH, UNKNOWN

    if key == "propertyNames":
        differ.compare(as_schema(old if old is not None else True), as_schema(new), at)
        return
    old_map, new_map = dict(old or {}), dict(new or {})
    if old_map.keys() == new_map.keys():
        for pattern in sorted(old_map):
            differ.compare(as_schema(old_map[pattern]), as_schema(new_map[pattern]), at)
        return
    differ.add(at, UNKNOWN, f"{key} changed; qgen cannot tell whether that is compatible", BOTH)


def _schema(value: Any) -> Schema:
    return dict(value) if isinstance(value, dict) else {}

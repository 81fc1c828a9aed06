"""Constraint keywords: bounds, lengths, multipleOf, pattern, format, uniqueItems.

Each keyword is compared on its own: a tighter one narrows the accepted values (breaks old
jobs), a looser one widens them (breaks old callers reading results), a different pattern or
format does both, because qgen cannot compare two regular expressions.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from qgen.codegen.lock.changes import (
    BOTH,
    CONSTRAINT,
    NARROWER,
    WIDER,
    At,
    Comparer,
    Schema,
    show,
)

_LOWER = ("minLength", "minItems", "minProperties")
_UPPER = ("maxLength", "maxItems", "maxProperties")
_TEXT = ("pattern", "format")
KEYWORDS = frozenset(
    {
        *_LOWER, *_UPPER, *_TEXT, "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "multipleOf", "uniqueItems",
    }
)  # fmt: skip

Bound = tuple[float, bool] | None  # (value, exclusive); None: no bound


def compare(differ: Comparer, old: Schema, new: Schema, at: At, *, integers: bool) -> None:
    _bounds(differ, old, new, at, integers)
    _multiple(differ, old.get("multipleOf"), new.get("multipleOf"), at)
    for key in _LOWER:
        _length(differ, key, old.get(key), new.get(key), at, lower=True)
    for key in _UPPER:
        _length(differ, key, old.get(key), new.get(key), at, lower=False)
    for key in _TEXT:
        _text(differ, key, old.get(key), new.get(key), at)
    old_u, new_u = bool(old.get("uniqueItems")), bool(new.get("uniqueItems"))
    if new_u and not old_u:
        differ.add(at, CONSTRAINT, "items must now be unique", NARROWER)
    elif old_u and not new_u:
        differ.add(at, CONSTRAINT, "items no longer need to be unique", WIDER)


def _bounds(differ: Comparer, old: Schema, new: Schema, at: At, integers: bool) -> None:
    for side, inclusive, exclusive in (
        ("minimum", "minimum", "exclusiveMinimum"),
        ("maximum", "maximum", "exclusiveMaximum"),
    ):
        lower = side == "minimum"
        a = _bound(old.get(inclusive), old.get(exclusive), lower)
        b = _bound(new.get(inclusive), new.get(exclusive), lower)
        if a == b:
            continue
        na, nb = (_whole(a, lower), _whole(b, lower)) if integers else (a, b)
        if na == nb:
            continue  # e.g. gt=0 and ge=1 on an int
        tighter = _tighter(nb, na, lower)
        verdict = NARROWER if tighter else WIDER
        if a is None:
            differ.add(at, CONSTRAINT, f"{side} {_show(b, lower)} added", verdict)
        elif b is None:
            differ.add(at, CONSTRAINT, f"{side} {_show(a, lower)} removed", verdict)
        else:
            word = "tightened" if tighter else "relaxed"
            shown = f"from {_show(a, lower)} to {_show(b, lower)}"
            differ.add(at, CONSTRAINT, f"{side} {word} {shown}", verdict)


def _bound(inclusive: Any, exclusive: Any, lower: bool) -> Bound:
    """The tighter of ``minimum`` / ``exclusiveMinimum`` (or the maximum pair)."""
    found: list[tuple[float, bool]] = []
    if _number(inclusive):
        found.append((float(inclusive), False))
    if _number(exclusive):
        found.append((float(exclusive), True))
    best: Bound = None
    for bound in found:
        if best is None or _tighter(bound, best, lower):
            best = bound
    return best


def _tighter(a: Bound, b: Bound, lower: bool) -> bool:
    """True when bound ``a`` admits fewer values than ``b``."""
    if a is None:
        return False
    if b is None:
        return True
    if a[0] != b[0]:
        return (a[0] > b[0]) if lower else (a[0] < b[0])
    return a[1] and not b[1]


def _whole(bound: Bound, lower: bool) -> Bound:
    """An integer-only bound as an inclusive whole number: ``> 0`` is ``>= 1``."""
    if bound is None:
        return None
    value, exclusive = bound
    if lower:
        whole = math.floor(value) + 1 if exclusive else math.ceil(value)
    else:
        whole = math.ceil(value) - 1 if exclusive else math.floor(value)
    return (float(whole), False)


def _show(bound: Bound, lower: bool) -> str:
    if bound is None:
        return "none"
    value, exclusive = bound
    op = (">" if exclusive else ">=") if lower else ("<" if exclusive else "<=")
    return f"{op} {show(int(value) if value.is_integer() else value)}"


def _multiple(differ: Comparer, old: Any, new: Any, at: At) -> None:
    if old == new or not (_number(old) or _number(new)):
        return
    if not _number(new):
        differ.add(at, CONSTRAINT, f"multipleOf {show(old)} removed", WIDER)
    elif not _number(old):
        differ.add(at, CONSTRAINT, f"multipleOf {show(new)} added", NARROWER)
    else:
        a, b = Fraction(str(old)), Fraction(str(new))
        shown = f"multipleOf changed from {show(old)} to {show(new)}"
        if (a / b).denominator == 1:  # every multiple of the old is a multiple of the new
            differ.add(at, CONSTRAINT, shown, WIDER)
        elif (b / a).denominator == 1:
            differ.add(at, CONSTRAINT, shown, NARROWER)
        else:
            differ.add(at, CONSTRAINT, shown, BOTH)


def _length(differ: Comparer, key: str, old: Any, new: Any, at: At, *, lower: bool) -> None:
    """minLength & co. (absent: 0) and maxLength & co. (absent: no limit)."""
    if not _number(old) and not _number(new):
        return
    if lower:
        a, b = (old if _number(old) else 0), (new if _number(new) else 0)
        tighter = b > a
    else:
        a, b = (old if _number(old) else math.inf), (new if _number(new) else math.inf)
        tighter = b < a
    if a == b:
        return
    verdict = NARROWER if tighter else WIDER
    if not _number(old):
        differ.add(at, CONSTRAINT, f"{key} {show(new)} added", verdict)
    elif not _number(new):
        differ.add(at, CONSTRAINT, f"{key} {show(old)} removed", verdict)
    else:
        word = "tightened" if tighter else "relaxed"
        differ.add(at, CONSTRAINT, f"{key} {word} from {show(old)} to {show(new)}", verdict)


def _text(differ: Comparer, key: str, old: Any, new: Any, at: At) -> None:
    if old == new:
        return
    if old is None:
        differ.add(at, CONSTRAINT, f"{key} {show(new)} added", NARROWER)
    elif new is None:
        differ.add(at, CONSTRAINT, f"{key} {show(old)} removed", WIDER)
    else:
        differ.add(at, CONSTRAINT, f"{key} changed from {show(old)} to {show(new)}", BOTH)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

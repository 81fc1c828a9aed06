"""The encoded expressions of a summary, and helpers to read them.

An expression is a JSON list whose first item names its kind and whose last item is its
position ``[line, col]``:

    ["name", id, pos]                 ["attr", base, attr, pos]
    ["sub", base, [elems], pos]       ["call", func, [args], [[kw, value, pos]], pos]
    ["const", value, pos]             ["ellipsis", pos]
    ["list" | "tuple" | "set", [elems], pos]
    ["dict", [[key, value]], pos]     ["or", left, right, pos]
    ["?", source text, pos]           anything else
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Expr = list[Any]


class NotLiteral(Exception):
    """The expression is not a literal the build can evaluate."""

    def __init__(self, expr: Expr, what: str) -> None:
        super().__init__(what)
        self.expr = expr
        self.what = what


def pos(e: Expr) -> tuple[int, int]:
    p = e[-1]
    return (p[0], p[1]) if p else (1, 1)


def text(e: Expr) -> str:
    """The expression written back as source (normalized spacing)."""
    kind = e[0]
    if kind == "name":
        return str(e[1])
    if kind == "attr":
        return f"{text(e[1])}.{e[2]}"
    if kind == "sub":
        return f"{text(e[1])}[{', '.join(text(x) for x in e[2])}]"
    if kind == "call":
        parts = [text(a) for a in e[2]] + [f"{k}={text(v)}" for k, v, _ in e[3]]
        return f"{text(e[1])}({', '.join(parts)})"
    if kind == "const":
        return repr(e[1])
    if kind == "ellipsis":
        return "..."
    if kind in ("list", "tuple", "set"):
        inner = ", ".join(text(x) for x in e[1])
        return {"list": f"[{inner}]", "tuple": f"({inner})", "set": f"{{{inner}}}"}[kind]
    if kind == "dict":
        return "{" + ", ".join(f"{text(k)}: {text(v)}" for k, v in e[1]) + "}"
    if kind == "or":
        return f"{text(e[1])} | {text(e[2])}"
    return str(e[1])


def dotted(e: Expr) -> str | None:
    """``a.b.c`` for a name/attribute chain, else None."""
    if e[0] == "name":
        return str(e[1])
    if e[0] == "attr":
        base = dotted(e[1])
        return f"{base}.{e[2]}" if base is not None else None
    return None


def kwargs(call: Expr) -> dict[str, Expr]:
    return {k: v for k, v, _ in call[3]}


def kwarg_pos(call: Expr, name: str) -> tuple[int, int]:
    for k, _v, p in call[3]:
        if k == name:
            return (p[0], p[1]) if p else pos(call)
    return pos(call)


def literal(e: Expr, is_timedelta: Any = None) -> Any:
    """Evaluate a literal (str, numbers, bool, None, list, tuple, set, dict). ``is_timedelta``
    (callable on a call's func expression) allows ``timedelta(seconds=...)`` with numeric
    keyword arguments, evaluated to a ``datetime.timedelta``."""
    kind = e[0]
    if kind == "const":
        return e[1]
    if kind in ("list", "tuple", "set"):
        items = [literal(x, is_timedelta) for x in e[1]]
        if kind == "set":
            return as_set(items, e)
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        out: dict[Any, Any] = {}
        for k, v in e[1]:
            key = literal(k, is_timedelta)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise NotLiteral(k, "a dict key that is not a literal")
            out[key] = literal(v, is_timedelta)
        return out
    if kind == "call" and is_timedelta is not None and is_timedelta(e[1]):
        if e[2]:
            raise NotLiteral(e, "timedelta(...) with positional arguments")
        kw: dict[str, float] = {}
        for k, v, _ in e[3]:
            val = literal(v)
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise NotLiteral(v, f"timedelta argument {k}={text(v)}")
            kw[k] = val
        try:
            return dt.timedelta(**kw)
        except TypeError:
            raise NotLiteral(e, text(e)) from None
    raise NotLiteral(e, text(e))


def as_set(items: list[Any], e: Expr) -> list[Any]:
    """A set literal, as the sorted list pydantic would write for it (when sortable)."""
    try:
        return sorted(set(items))
    except TypeError:
        raise NotLiteral(e, "a set of mixed or unhashable values") from None

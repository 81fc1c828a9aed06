"""The generated JSON files' text: exactly ``json.dumps(value, indent=2, sort_keys=True,
ensure_ascii=False)``, about twice as fast.

With ``indent`` the standard library leaves its C encoder for a generator-based Python one; the
schema files and manifest.json of a 2,000-queue project took ~0.15 s that way. This writes the
same text with one list of pieces and the C string escaper. A value it does not know exactly
(a str or int subclass, a non-string key) goes to ``json.dumps``, so the text never differs.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring
from typing import Any


class _Other(Exception):
    """A value this writer leaves to ``json.dumps``."""


def dumps(value: Any) -> str:
    out: list[str] = []
    try:
        _write(value, "\n", out)
    except (_Other, RecursionError):
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return "".join(out)


def _write(v: Any, nl: str, out: list[str]) -> None:
    t = type(v)
    if t is str:
        out.append(encode_basestring(v))
    elif t is dict:
        _write_dict(v, nl, out)
    elif t is list or t is tuple:
        if not v:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for item in v:
            out.append(sep)
            _write(item, inner, out)
            sep = "," + inner
        out.append(nl + "]")
    elif v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif t is int:
        out.append(int.__repr__(v))
    elif t is float:
        out.append(float.__repr__(v) if math.isfinite(v) else _non_finite(v))
    else:
        raise _Other


def _write_dict(v: dict[Any, Any], nl: str, out: list[str]) -> None:
    if not v:
        out.append("{}")
        return
    if any(type(k) is not str for k in v):
        raise _Other  # json.dumps turns such keys into strings its own way
    inner = nl + "  "
    sep = "{" + inner
    for key in sorted(v):
        out.append(sep)
        out.append(encode_basestring(key))
        out.append(": ")
        _write(v[key], inner, out)
        sep = "," + inner
    out.append(nl + "}")


def _non_finite(v: float) -> str:
    return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")

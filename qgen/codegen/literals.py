"""The only ways user-derived values enter generated code: Python literals of JSON-like data,
docstrings, and validated identifiers.

Docstrings are triple-quoted and survive the build's ``ruff format`` unchanged: every
character that is not printable (line and paragraph separators, form feeds, carriage returns,
tabs, NUL ...) is written as an escape, so line splitting, ``ast`` and the formatter all see the
same lines, and the imported ``inspect.getdoc(...)`` equals the text.
"""

from __future__ import annotations

import math
from typing import Any

from qgen.runtime.names import is_identifier


class RenderError(Exception):
    """Something in the IR cannot be rendered safely (a bug upstream or hostile input)."""


def py_literal(value: Any) -> str:
    """A Python literal for JSON-like data (str, int, float, bool, None, list, tuple, dict)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RenderError(f"cannot render non-finite number {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        return repr(str(value))
    if isinstance(value, list | tuple):
        inner = ", ".join(py_literal(v) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = ", ".join(f"{py_literal(str(k))}: {py_literal(v)}" for k, v in value.items())
        return "{" + items + "}"
    raise RenderError(f"cannot render {type(value).__name__} as a Python literal")


def _escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if ch == '"':
        return '\\"'
    if ch == " " or ch.isprintable():
        return ch
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _line(text: str) -> str:
    out = "".join(_escape(ch) for ch in text)
    # A formatter strips trailing blanks, and a docstring ending in a quote or backslash gets a
    # space added: such a last character is written as a hex escape instead.
    if text.endswith((" ", '"', "\\")):
        out = out[: -len(_escape(text[-1]))] + f"\\x{ord(text[-1]):02x}"
    return out


def doc_literal(text: Any, indent: int = 4) -> str:
    """A triple-quoted docstring for ``text`` at ``indent`` spaces; surrounding whitespace is
    stripped (as ``inspect.getdoc`` would), an empty text becomes "(no description)"."""
    value = str(text).strip() or "(no description)"
    # Only "\n" splits lines: "\r", U+2028 and the other separators are escaped by _escape.
    lines = [_line(line) for line in value.split("\n")]
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    pad = " " * indent
    body = "\n".join(pad + line if line else "" for line in lines[1:])
    return f'"""{lines[0]}\n{body}\n{pad}"""'


def ident(value: Any) -> str:
    if not isinstance(value, str) or not is_identifier(value):
        raise RenderError(f"{value!r} is not a Python identifier")
    return value


def dotted(value: Any) -> str:
    if not isinstance(value, str) or not all(is_identifier(p) for p in value.split(".")):
        raise RenderError(f"{value!r} is not a dotted Python name")
    return value


def hexdigest(value: Any) -> str:
    if not isinstance(value, str) or not all(c in "0123456789abcdef" for c in value):
        raise RenderError(f"{value!r} is not a hex digest")
    return value

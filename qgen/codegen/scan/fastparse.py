"""``libcst.parse_module`` without libcst re-checking what its own parser built.

Every libcst node validates itself when it is constructed (``CSTNode.__post_init__``), also each
node the native parser made from source it has just accepted: about a fifth of a parse here (the
comment on that method in libcst says as much). The check is switched off for the parse only and
always switched back on; nodes built any other way are validated as usual. The scanner is the
only libcst user in the process (its own worker processes, or the build's process), so nothing
else builds nodes meanwhile. libcst is pinned (pyproject.toml); should the hook move, the parse
simply validates as before.
"""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst._nodes.base import CSTNode

_VALIDATING: Any = CSTNode.__dict__.get("__post_init__")


def _trusted(self: CSTNode) -> None:
    return None


def parse_module(source: bytes) -> cst.Module:
    if _VALIDATING is None:
        return cst.parse_module(source)
    CSTNode.__post_init__ = _trusted  # type: ignore[method-assign]
    try:
        return cst.parse_module(source)
    finally:
        CSTNode.__post_init__ = _VALIDATING  # type: ignore[method-assign]

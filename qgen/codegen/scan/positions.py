"""Line/column of chosen CST nodes, from one light codegen pass.

libcst's PositionProvider records a range for every node and costs more than the parse itself;
this state tracks the current line/column like it does but records a start position only for
the nodes the summary keeps (their ids are the keys of ``wanted``).
"""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst._nodes.internal import CodegenState

Pos = list[int]


class _Null:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()


class _Rec:
    __slots__ = ("node", "state")

    def __init__(self, state: PosState, node: cst.CSTNode) -> None:
        self.state = state
        self.node = node

    def __enter__(self) -> None:
        st = self.state
        got = st.found[id(self.node)]
        if not got:
            got.extend((st.line, st.column + 1))

    def __exit__(self, *exc: object) -> None:
        return None


class PosState(CodegenState):
    """Tracks line/column like libcst's position provider, but only for wanted nodes."""

    def __init__(self, module: cst.Module, wanted: dict[int, Pos]) -> None:
        super().__init__(
            default_indent=module.default_indent, default_newline=module.default_newline
        )
        self.found = wanted
        self.line = 1
        self.column = 0

    def add_indent_tokens(self) -> None:
        for tok in self.indent_tokens:
            self.add_token(tok)

    def add_token(self, value: str) -> None:
        if "\n" in value:
            self.line += value.count("\n")
            self.column = len(value) - value.rfind("\n") - 1
        else:
            self.column += len(value)

    def record_syntactic_position(
        self,
        node: cst.CSTNode,
        *,
        start_node: cst.CSTNode | None = None,
        end_node: cst.CSTNode | None = None,
    ) -> Any:
        if id(node) in self.found:
            return _Rec(self, node)
        return _NULL

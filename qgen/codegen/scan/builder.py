"""What the schema's helpers (``classes``, ``fields``) need of the ``SchemaBuilder``, as a
protocol: they depend on this module, and ``schema`` (which calls them) on them, never the other
way round (import-linter forbids the cycle)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from qgen.codegen.scan.expr import Expr
from qgen.codegen.scan.resolve import Index, Ref

Schema = dict[str, Any]


class Builder(Protocol):
    index: Index

    def diag(self, code: str, module: str, e: Expr, message: str) -> None: ...

    def gen(self, e: Expr, module: str) -> tuple[Schema, bool]: ...

    def define(self, ref: Ref, make: Callable[[], Schema]) -> Schema: ...

    def definition(self, ref: str) -> Schema: ...

    def enum_member_value(self, e: Expr, module: str) -> Any: ...

    def read_metadata(self, metas: list[Expr], module: str, info: Any) -> None:
        """``info``: a ``fields.FieldInfo`` (``fields`` builds on this module)."""

    def class_kind(self, ref: Ref) -> str: ...

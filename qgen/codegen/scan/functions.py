"""Job functions: ``@sessionless_func`` definitions -> FunctionSpec (with schemas)."""

from __future__ import annotations

from typing import Any

from qgen.codegen.ir import FunctionSpec, SourceLocation
from qgen.codegen.scan.expr import Expr, NotLiteral, literal, pos, text
from qgen.codegen.scan.resolve import Index, Ref
from qgen.codegen.scan.schema import SchemaBuilder
from qgen.diagnostics import Diagnostic, Severity

SESSIONLESS = ("ext", "qgen.sessionless_func")
_DOC_KEYS = ("summary", "description", "tags", "errors")


def decorator_call(index: Index, ref: Ref) -> Expr | None:
    """The ``@sessionless_func`` decorator of a function (bare: a call with no args)."""
    info = index.get_def(ref)
    for deco in info.get("decos", ()):
        if deco[0] == "call" and index.resolve_follow(deco[1], ref[1]) == SESSIONLESS:
            call: Expr = deco
            return call
        if deco[0] in ("name", "attr") and index.resolve_follow(deco, ref[1]) == SESSIONLESS:
            return ["call", deco, [], [], deco[-1]]
    return None


class FunctionReader:
    def __init__(self, index: Index, builder: SchemaBuilder) -> None:
        self.index = index
        self.builder = builder
        self.diagnostics: list[Diagnostic] = []
        self._done: dict[Ref, FunctionSpec | None] = {}

    def err(self, module: str, at: Expr | tuple[int, int] | list[int], code: str, msg: str) -> None:
        line, col = pos(at) if isinstance(at, list) and at and isinstance(at[0], str) else at
        self.diagnostics.append(
            Diagnostic(self.index.path_of(module), line, col, code, Severity.ERROR, msg)
        )

    def read(self, ref: Ref, wired_at: tuple[str, Expr]) -> FunctionSpec | None:
        """FunctionSpec of the job function ``ref``; None (with diagnostics) when unusable.
        ``wired_at`` (module, func expression) is where QG105 is reported."""
        if ref in self._done:
            return self._done[ref]
        try:
            spec = self._read(ref, wired_at)
        except RecursionError:
            pos = self.index.get_def(ref)["pos"]
            self.err(ref[1], pos, "QG201", f"{ref[2]}: annotations nested too deeply to read")
            spec = None
        self._done[ref] = spec
        return spec

    def _read(self, ref: Ref, wired_at: tuple[str, Expr]) -> FunctionSpec | None:
        module, name = ref[1], ref[2]
        info = self.index.get_def(ref)
        fpos = info["pos"]
        marks = self._marks(ref, wired_at)
        positional = None if marks is None else self._signature(module, name, info)
        if marks is None or positional is None:
            return None
        ok, auth, perms, docs = marks
        data = positional[1]
        n_before = len(self.builder.diagnostics)
        input_schema = self.builder.build(data["ann"], module)
        ret = info["ret"]
        output_schema: dict[str, Any] | None = None
        output_type = "None"
        if ret is not None and not (ret[0] == "const" and ret[1] in (None, "None")):
            output_type = _shown(ret)
            output_schema = self.builder.build(ret, module)
        failed = output_type != "None" and output_schema is None
        if input_schema is None or failed or len(self.builder.diagnostics) > n_before or not ok:
            return None
        return FunctionSpec(
            name=name,
            module=module,
            is_async=bool(info["async"]),
            takes_interaction=len(positional) == 3,
            input_type=_shown(data["ann"]),
            output_type=output_type,
            input_schema=input_schema,
            output_schema=output_schema,
            docs=docs,
            auth=bool(auth),
            permissions=tuple(str(p) for p in perms or ()),
            location=SourceLocation(self.index.path_of(module), fpos[0], fpos[1]),
        )

    def _marks(
        self, ref: Ref, wired_at: tuple[str, Expr]
    ) -> tuple[bool, Any, Any, dict[str, Any]] | None:
        """(ok, auth, permissions, docs) of the ``@sessionless_func`` on ``ref``; None (QG105)
        when it has none. Not ok (QG106) when it asks for a user session."""
        module, name = ref[1], ref[2]
        deco = decorator_call(self.index, ref)
        if deco is None:
            self.err(
                wired_at[0],
                wired_at[1],
                "QG105",
                f"{module}.{name} is wired to a queue but not decorated with @sessionless_func",
            )
            return None
        kw = {k: v for k, v, _ in deco[3]}
        ok = True
        auth = self._lit(module, kw.get("auth"), False)
        perms = self._lit(module, kw.get("permissions"), None)
        if auth is True or perms:
            what = "auth=True" if auth is True else "permissions"
            where = kw["auth"] if auth is True else kw["permissions"]
            self.err(
                module,
                where,
                "QG106",
                f"{name}: {what} on a function wired to a queue; queue jobs carry no user session",
            )
            ok = False
        return ok, auth, perms, self._docs(module, kw.get("docs"))

    def _signature(
        self, module: str, name: str, info: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The positional parameters (services, data[, interaction]), or None after QG107 or
        QG108."""
        params = info["params"]
        positional = [p for p in params if p["kind"] in ("posonly", "pos")]
        bad = [
            p
            for p in params
            if p["kind"] in ("star", "starstar", "kwonly") and not p.get("default")
        ]
        if len(positional) < 2 or len(positional) > 3 or bad:
            self.err(
                module,
                info["pos"],
                "QG107",
                f"{name} must take (services, data) or (services, data, interaction)",
            )
            return None
        data = positional[1]
        if data["ann"] is None:
            self.err(
                module,
                data["pos"],
                "QG108",
                f"{name}: parameter {data['name']} needs a type annotation",
            )
            return None
        return positional

    def _lit(self, module: str, e: Expr | None, default: Any) -> Any:
        if e is None:
            return default
        try:
            return literal(e)
        except NotLiteral:
            self.err(module, e, "QG109", f"{text(e)} must be a literal in @sessionless_func(...)")
            return default

    def _docs(self, module: str, e: Expr | None) -> dict[str, Any]:
        raw = self._lit(module, e, {})
        if not isinstance(raw, dict):
            assert e is not None
            self.err(module, e, "QG109", "docs of @sessionless_func must be a literal dict")
            return {}
        out: dict[str, Any] = {}
        for key in _DOC_KEYS:
            if key not in raw:
                continue
            value = raw[key]
            if key in ("summary", "description") and isinstance(value, str):
                out[key] = value
            elif key in ("tags", "errors") and isinstance(value, list | tuple):
                if all(isinstance(v, str) for v in value):
                    out[key] = list(value)
                    continue
                assert e is not None
                self.err(module, e, "QG109", f"docs[{key!r}] must be a list of strings")
            else:
                assert e is not None
                self.err(module, e, "QG109", f"docs[{key!r}] has the wrong type")
        unknown = sorted(str(k) for k in raw if k not in _DOC_KEYS)
        if unknown and e is not None:
            self.err(
                module, e, "QG109", f"docs has unknown keys {unknown} (known: {list(_DOC_KEYS)})"
            )
        return out


def _shown(ann: Expr) -> str:
    """An annotation for display: a string (forward reference) without its quotes."""
    return str(ann[1]).strip() if ann[0] == "const" and isinstance(ann[1], str) else text(ann)

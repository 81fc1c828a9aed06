"""Per-file summary: what the scanner needs from one module, as plain JSON-able data.

Runs in worker processes. Only module-level statements (and class bodies) are read: job
functions, wirings and type definitions live there, and skipping function bodies keeps the
work after parsing light. Expressions are encoded as nested lists so the parent can resolve
them across modules later (see ``qgen.codegen.scan.expr``).

Positions come from one light codegen pass (``positions.PosState``) that records line/col only
for the nodes we keep; libcst's PositionProvider costs more than the parse itself.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from qgen.codegen.scan.fastparse import parse_module
from qgen.codegen.scan.guards import complexity_error, python_syntax_error, too_deep
from qgen.codegen.scan.positions import PosState

SUMMARY_VERSION = 8

Pos = list[int]  # [line, col], both 1-based
Expr = list[Any]  # see qgen.codegen.scan.expr


class _Summarizer:
    def __init__(self, module: cst.Module, modname: str, is_pkg: bool) -> None:
        self.module = module
        self.modname = modname
        self.is_pkg = is_pkg
        # id(node) -> [line, col]; filled by the codegen pass; the lists below point at it
        self.pending: dict[int, Pos] = {}
        self.bindings: dict[str, list[Any]] = {}
        self.defs: dict[str, dict[str, Any]] = {}
        self.stars: list[str] = []
        self.wirings: list[Expr] = []

    # -- positions -------------------------------------------------------------------------
    def pos(self, node: cst.CSTNode) -> Pos:
        p = self.pending.get(id(node))
        if p is None:
            p = self.pending[id(node)] = []
        return p

    def fill_positions(self) -> None:
        state = PosState(self.module, self.pending)
        self.module._codegen(state)
        for p in self.pending.values():
            if not p:  # a node kind libcst records no position for
                p.extend((1, 1))

    # -- expressions -----------------------------------------------------------------------
    def expr(self, node: cst.BaseExpression) -> Expr:
        p = self.pos(node)
        if isinstance(node, cst.Name):
            if node.value == "None":
                return ["const", None, p]
            if node.value in ("True", "False"):
                return ["const", node.value == "True", p]
            return ["name", node.value, p]
        if isinstance(node, cst.Attribute):
            return ["attr", self.expr(node.value), node.attr.value, p]
        if isinstance(node, cst.SimpleString | cst.ConcatenatedString):
            val = node.evaluated_value
            if isinstance(val, str):
                return ["const", val, p]
            return ["?", "bytes literal", p]
        if isinstance(node, cst.Integer | cst.Float):
            return ["const", node.evaluated_value, p]
        if isinstance(node, cst.UnaryOperation) and isinstance(
            node.expression, cst.Integer | cst.Float
        ):
            if isinstance(node.operator, cst.Minus):
                return ["const", -node.expression.evaluated_value, p]
            if isinstance(node.operator, cst.Plus):
                return ["const", node.expression.evaluated_value, p]
        if isinstance(node, cst.Ellipsis):
            return ["ellipsis", p]
        if isinstance(node, cst.Subscript | cst.Call | cst.List | cst.Tuple | cst.Set | cst.Dict):
            return self._compound(node, p)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return ["or", self.expr(node.left), self.expr(node.right), p]
        return ["?", self.module.code_for_node(node).strip()[:80], p]

    def _compound(
        self, node: cst.Subscript | cst.Call | cst.List | cst.Tuple | cst.Set | cst.Dict, p: Pos
    ) -> Expr:
        """Subscripts, calls and displays (list, tuple, set, dict)."""
        if isinstance(node, cst.Subscript):
            elems: list[Expr] = []
            for sel in node.slice:
                if isinstance(sel.slice, cst.Index):
                    elems.append(self.expr(sel.slice.value))
                else:
                    elems.append(["?", "slice", self.pos(sel)])
            return ["sub", self.expr(node.value), elems, p]
        if isinstance(node, cst.Call):
            args: list[Expr] = []
            kws: list[list[Any]] = []
            for a in node.args:
                if a.star:
                    args.append(["?", "*" + a.star, self.pos(a)])
                elif a.keyword is not None:
                    kws.append([a.keyword.value, self.expr(a.value), self.pos(a)])
                else:
                    args.append(self.expr(a.value))
            return ["call", self.expr(node.func), args, kws, p]
        if isinstance(node, cst.List | cst.Tuple | cst.Set):
            kind = {cst.List: "list", cst.Tuple: "tuple", cst.Set: "set"}[type(node)]
            items: list[Expr] = []
            for el in node.elements:
                if isinstance(el, cst.StarredElement):
                    items.append(["?", "*unpacking", self.pos(el)])
                else:
                    items.append(self.expr(el.value))
            return [kind, items, p]
        pairs: list[list[Expr]] = []  # a dict
        for del_ in node.elements:
            if isinstance(del_, cst.DictElement):
                pairs.append([self.expr(del_.key), self.expr(del_.value)])
            else:
                pairs.append([["?", "**unpacking", self.pos(del_)], ["const", None, p]])
        return ["dict", pairs, p]

    # -- statements ------------------------------------------------------------------------
    def run(self, body: Any) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self.small(small)
            elif isinstance(stmt, cst.ClassDef):
                self.classdef(stmt)
            elif isinstance(stmt, cst.FunctionDef):
                self.funcdef(stmt)
            elif isinstance(stmt, cst.If):
                self.run(stmt.body.body)
                orelse = stmt.orelse
                while orelse is not None:
                    self.run(orelse.body.body)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(stmt, cst.Try | cst.TryStar):
                # handlers first: when the try body runs without error, its bindings win
                # (try: from typing import X / except ImportError: from typing_extensions ...)
                for h in stmt.handlers:
                    self.run(h.body.body)
                self.run(stmt.body.body)
                if stmt.orelse is not None:
                    self.run(stmt.orelse.body.body)
                if stmt.finalbody is not None:
                    self.run(stmt.finalbody.body.body)
            elif isinstance(stmt, cst.With | cst.For | cst.While):
                # a wiring in a loop is reported (its queue is not a literal), not skipped
                self.run(stmt.body.body)

    def small(self, node: cst.BaseSmallStatement) -> None:
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = _dotted(alias.name)
                if alias.asname is not None:
                    local = _name(alias.asname.name)
                    self.bindings[local] = ["mod", dotted, self.pos(alias)]
                else:
                    top = dotted.split(".", 1)[0]
                    self.bindings[top] = ["mod", top, self.pos(alias)]
        elif isinstance(node, cst.ImportFrom):
            base = self.absolute(node)
            if isinstance(node.names, cst.ImportStar):
                self.stars.append(base)
                return
            for alias in node.names:
                name = _dotted(alias.name)
                local = _name(alias.asname.name) if alias.asname is not None else name
                self.bindings[local] = ["from", base, name, self.pos(alias)]
        elif isinstance(node, cst.Assign):
            value = node.value
            if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
                name = node.targets[0].target.value
                self.define(name, {"k": "var", "value": self.expr(value), "pos": self.pos(node)})
            if isinstance(value, cst.Call):
                self.maybe_wiring(value)
        elif isinstance(node, cst.AnnAssign):
            if isinstance(node.target, cst.Name) and node.value is not None:
                ann = self.expr(node.annotation.annotation)
                self.define(
                    node.target.value,
                    {"k": "var", "value": self.expr(node.value), "ann": ann, "pos": self.pos(node)},
                )
        elif isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
            self.maybe_wiring(node.value)
        elif isinstance(node, cst.TypeAlias):
            self.define(
                node.name.value,
                {"k": "alias695", "value": self.expr(node.value), "pos": self.pos(node)},
            )

    def define(self, name: str, info: dict[str, Any]) -> None:
        info["name"] = name
        self.defs[name] = info
        self.bindings[name] = ["def"]

    def maybe_wiring(self, call: cst.Call) -> None:
        # wire_queue_worker is keyword-only: a call without queue=/func= is not a wiring;
        # wire_schedule(...) is kept by its name too, so a schedule without queue= is reported
        func = call.func
        named = (isinstance(func, cst.Name) and func.value == "wire_schedule") or (
            isinstance(func, cst.Attribute) and func.attr.value == "wire_schedule"
        )
        if named or any(
            a.keyword is not None and a.keyword.value in ("queue", "func") for a in call.args
        ):
            self.wirings.append(self.expr(call))

    def absolute(self, node: cst.ImportFrom) -> str:
        mod = _dotted(node.module) if node.module is not None else ""
        level = len(node.relative)
        if not level:
            return mod
        parts = self.modname.split(".")
        if not self.is_pkg:
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
        base = ".".join(parts)
        return f"{base}.{mod}" if base and mod else (base or mod)

    def funcdef(self, node: cst.FunctionDef) -> None:
        params: list[dict[str, Any]] = []
        ps = node.params
        groups: list[tuple[str, Any]] = [
            ("posonly", ps.posonly_params),
            ("pos", ps.params),
            ("kwonly", ps.kwonly_params),
        ]
        for kind, group in groups:
            for prm in group:
                params.append(
                    {
                        "name": prm.name.value,
                        "kind": kind,
                        "ann": self.expr(prm.annotation.annotation) if prm.annotation else None,
                        "default": prm.default is not None,
                        "pos": self.pos(prm),
                    }
                )
        if isinstance(ps.star_arg, cst.Param):
            params.append(
                {"name": ps.star_arg.name.value, "kind": "star", "pos": self.pos(ps.star_arg)}
            )
        if ps.star_kwarg is not None:
            params.append(
                {
                    "name": ps.star_kwarg.name.value,
                    "kind": "starstar",
                    "pos": self.pos(ps.star_kwarg),
                }
            )
        self.define(
            node.name.value,
            {
                "k": "func",
                "async": node.asynchronous is not None,
                "decos": [self.expr(d.decorator) for d in node.decorators],
                "params": params,
                "ret": self.expr(node.returns.annotation) if node.returns is not None else None,
                "pos": self.pos(node),
            },
        )

    def classdef(self, node: cst.ClassDef) -> None:
        body: list[dict[str, Any]] = []
        doc = node.get_docstring(clean=True)
        stmts = node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body]
        for stmt in stmts:
            smalls = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ()
            if isinstance(stmt, cst.SimpleStatementSuite):
                smalls = stmt.body
            for sm in smalls:
                if isinstance(sm, cst.AnnAssign) and isinstance(sm.target, cst.Name):
                    body.append(
                        {
                            "name": sm.target.value,
                            "ann": self.expr(sm.annotation.annotation),
                            "value": self.expr(sm.value) if sm.value is not None else None,
                            "pos": self.pos(sm),
                        }
                    )
                elif (
                    isinstance(sm, cst.Assign)
                    and len(sm.targets) == 1
                    and isinstance(sm.targets[0].target, cst.Name)
                ):
                    body.append(
                        {
                            "name": sm.targets[0].target.value,
                            "ann": None,
                            "value": self.expr(sm.value),
                            "pos": self.pos(sm),
                        }
                    )
        self.define(
            node.name.value,
            {
                "k": "class",
                "bases": [
                    self.expr(a.value) for a in node.bases if a.keyword is None and not a.star
                ],
                "kw": [[a.keyword.value, self.expr(a.value)] for a in node.keywords if a.keyword],
                "decos": [self.expr(d.decorator) for d in node.decorators],
                "doc": doc,
                "body": body,
                "pos": self.pos(node),
            },
        )


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    raise ValueError("not a dotted name")


def _name(node: cst.BaseExpression) -> str:
    return node.value if isinstance(node, cst.Name) else _dotted(node)


def summarize(source: bytes, modname: str, path: str, is_pkg: bool) -> dict[str, Any]:
    """Summary of one file; a syntax error gives a summary with ``syntax_error`` set."""
    out: dict[str, Any] = {
        "v": SUMMARY_VERSION,
        "module": modname,
        "path": path,
        "is_pkg": is_pkg,
        "syntax_error": None,
        "bindings": {},
        "defs": {},
        "stars": [],
        "wirings": [],
    }
    # CPython refuses more than 200 nested brackets, and libcst's native parser can crash the
    # process on such input: let Python judge the file first; long chains are refused too.
    err = python_syntax_error(source) if too_deep(source) else complexity_error(source)
    if err is not None:
        out["syntax_error"] = err
        return out
    try:
        module = parse_module(source)  # libcst's, without re-validating its nodes
    except cst.ParserSyntaxError as exc:
        out["syntax_error"] = python_syntax_error(source) or [
            exc.raw_line,
            exc.raw_column + 1,
            exc.message.strip().splitlines()[0] if exc.message.strip() else "invalid syntax",
        ]
        return out
    except Exception as exc:  # e.g. an undecodable file
        out["syntax_error"] = python_syntax_error(source) or [1, 1, f"cannot parse: {exc}"]
        return out
    s = _Summarizer(module, modname, is_pkg)
    try:
        s.run(module.body)
        if s.pending:
            s.fill_positions()
    except RecursionError:
        out["syntax_error"] = [1, 1, "expressions nested too deeply for qgen to read"]
        return out
    out["bindings"] = s.bindings
    out["defs"] = s.defs
    out["stars"] = s.stars
    out["wirings"] = s.wirings
    return out


def parse_annotation(source: str, pos: Pos) -> Expr | None:
    """Encode a string (forward-reference) annotation; every node gets the string's position."""
    try:
        node = cst.parse_expression(source.strip())
    except Exception:
        return None
    s = _Summarizer(cst.Module(body=[]), "", False)
    e = s.expr(node)
    for p in s.pending.values():
        p.extend(pos)
    return e

"""Annotations (as scanned, never imported) -> JSON Schema 2020-12, the way
``pydantic.TypeAdapter(T).json_schema()`` writes it in validation mode.

One ``SchemaBuilder.build`` call makes one root schema; named definitions (models, TypedDicts,
dataclasses, enums, ``type X = ...`` aliases) go to ``$defs`` under pydantic's names (the class
name, or ``module__path__Name`` when two definitions share a name). Anything the scanner cannot
know for certain is a diagnostic (QG002/QG201/QG202/QG203), never a guess.
"""

from __future__ import annotations

from typing import Any

from qgen.codegen.scan.expr import Expr, pos, text
from qgen.codegen.scan.fields import (
    MISSING,
    FieldInfo,
    apply_constraints,
    decorate,
    read_field_call,
)
from qgen.codegen.scan.known import DICTS, LISTS, SETS, SIMPLE, TUPLES, WRAPPERS
from qgen.codegen.scan.resolve import Index, Ref
from qgen.codegen.scan.summary import parse_annotation
from qgen.diagnostics import Diagnostic, Severity

Schema = dict[str, Any]
_REF = "#/$defs/"


class SchemaBuilder:
    """Builds schemas against one Index; diagnostics accumulate in ``self.diagnostics``."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.diagnostics: list[Diagnostic] = []
        self._defs: dict[str, Schema] = {}
        self._short: dict[str, str] = {}  # def key -> short name
        # Definitions are made once per scan and reused by every root that needs them:
        # key -> (schema, short name, keys it refers to, whether making it raised diagnostics)
        self._memo: dict[str, tuple[Schema, str, set[str], bool]] = {}
        self._stack: list[set[str]] = []  # refs made by the definitions being generated
        self._failed = False
        self._expanding: set[Ref] = set()  # plain aliases being expanded (cycle guard)

    # -- entry -----------------------------------------------------------------------------
    def build(self, e: Expr, module: str) -> Schema | None:
        """The root schema for annotation ``e`` read in ``module``; None after any error."""
        self._defs = {}
        self._short = {}
        self._failed = False
        root, _ = self.gen(e, module)
        if self._failed:
            return None
        return self._finish(root)

    def diag(self, code: str, module: str, e: Expr, message: str) -> None:
        self._failed = True
        line, col = pos(e)
        path = self.index.path_of(module) if module in self.index.mods else module
        self.diagnostics.append(Diagnostic(path, line, col, code, Severity.ERROR, message))

    # -- types -----------------------------------------------------------------------------
    def gen(self, e: Expr, module: str) -> tuple[Schema, bool]:
        """(schema, titled): ``titled`` is True for definitions (refs), which pydantic never
        gives a field title."""
        kind = e[0]
        if kind == "const":
            if e[1] is None:
                return {"type": "null"}, False
            if isinstance(e[1], str):
                parsed = parse_annotation(e[1], list(pos(e)))
                if parsed is None:
                    self.diag("QG201", module, e, f"cannot parse the annotation {e[1]!r}")
                    return {}, False
                return self.gen(parsed, module)
        if kind == "or":
            return self.union([e[1], e[2]], module)
        if kind in ("name", "attr"):
            return self.named(self.index.resolve_follow(e, module), e, module)
        if kind == "sub":
            return self.subscript(e, module)
        self.diag("QG201", module, e, f"unsupported annotation {text(e)}")
        return {}, False

    def named(self, ref: Ref, e: Expr, module: str) -> tuple[Schema, bool]:
        if ref[0] == "ext":
            name = ref[1]
            if name in SIMPLE:
                return dict(SIMPLE[name]), False
            if name in ("typing.Sequence", "typing.MutableSequence"):
                return dict(SIMPLE["builtins.list"]), False
            if name in ("typing.Mapping", "typing.MutableMapping"):
                return dict(SIMPLE["builtins.dict"]), False
            self.diag("QG201", module, e, f"unsupported annotation {text(e)} ({name})")
            return {}, False
        if ref[0] == "missing":
            shown = text(e)
            extra = f" ({ref[1]} does not exist)" if ref[1] and ref[1] != shown else ""
            self.diag("QG002", module, e, f"cannot resolve {shown}{extra}")
            return {}, False
        if ref[0] == "def":
            from qgen.codegen.scan.classes import class_schema

            info = self.index.get_def(ref)
            if info["k"] == "class":
                return class_schema(self, ref, e, module), True
            if info["k"] == "var":
                value = info["value"]
                if value[0] == "call" and len(value[2]) >= 2:
                    head = self.index.resolve_follow(value[1], ref[1])
                    if head == ("ext", "typing.TypeAliasType"):  # named: a $defs entry
                        return self.define(ref, lambda: self.gen(value[2][1], ref[1])[0]), True
                    if head == ("ext", "typing.NewType"):  # validated as its base type
                        return self.gen(value[2][1], ref[1])
                if ref in self._expanding:
                    self.diag(
                        "QG201",
                        module,
                        e,
                        f"recursive type alias {text(e)}: use TypeAliasType or a model",
                    )
                    return {}, False
                self._expanding.add(ref)
                try:
                    return self.gen(value, ref[1])
                finally:
                    self._expanding.discard(ref)
            if info["k"] == "alias695":
                return self.define(ref, lambda: self.gen(info["value"], ref[1])[0]), True
        self.diag("QG201", module, e, f"{text(e)} is not a type qgen can read")
        return {}, False

    def subscript(self, e: Expr, module: str) -> tuple[Schema, bool]:
        ref = self.index.resolve_follow(e[1], module)
        args: list[Expr] = e[2]
        name = ref[1] if ref[0] == "ext" else ""
        if name == "typing.Optional" and len(args) == 1:
            return self.union([args[0], ["const", None, e[-1]]], module)
        if name == "typing.Union":
            return self.union(args, module)
        if name == "typing.Literal":
            return self.literal(args, module), False
        if name == "typing.Annotated" and args:
            info = FieldInfo()
            self.read_metadata(args[1:], module, info)
            inner, titled = self.gen(args[0], module)
            inner = apply_constraints(self, inner, info, module, args[0])
            return decorate(inner, info, title=None), titled
        if name in WRAPPERS and len(args) == 1:
            return self.gen(args[0], module)
        if name in LISTS and len(args) == 1:
            return {"items": self.gen(args[0], module)[0], "type": "array"}, False
        if name in SETS and len(args) == 1:
            items = self.gen(args[0], module)[0]
            return {"items": items, "type": "array", "uniqueItems": True}, False
        if name in DICTS and len(args) == 2:
            return self.dict_schema(args, module), False
        if name in TUPLES:
            return self.tuple_schema(args, module), False
        self.diag("QG201", module, e, f"unsupported annotation {text(e)}")
        return {}, False

    def dict_schema(self, args: list[Expr], module: str) -> Schema:
        """As pydantic: key constraints become ``propertyNames`` (or ``patternProperties``)."""
        keys = dict(self.gen(args[0], module)[0])
        pattern = None
        if "$ref" not in keys:
            pattern = keys.pop("pattern", None)
            keys.pop("title", None)
        values = dict(self.gen(args[1], module)[0])
        values.pop("title", None)
        out: Schema = {"type": "object"}
        if pattern is not None:
            out["patternProperties"] = {pattern: values}
        else:
            out["additionalProperties"] = values or True
        if (keys.get("type") == "string" and len(keys) > 1) or "$ref" in keys:
            keys.pop("type", None)
            out["propertyNames"] = keys
        return out

    def tuple_schema(self, args: list[Expr], module: str) -> Schema:
        if len(args) == 2 and args[1][0] == "ellipsis":
            return {"items": self.gen(args[0], module)[0], "type": "array"}
        if len(args) == 1 and args[0][0] == "tuple" and not args[0][1]:
            args = []  # tuple[()]
        out: Schema = {"maxItems": len(args), "minItems": len(args), "type": "array"}
        if args:
            out["prefixItems"] = [self.gen(a, module)[0] for a in args]
        return out

    def literal(self, args: list[Expr], module: str) -> Schema:
        values: list[Any] = []
        for a in args:
            if a[0] == "const":
                values.append(a[1])
            elif a[0] == "attr" and (v := self.enum_member_value(a, module)) is not MISSING:
                values.append(v)
            else:
                self.diag("QG201", module, a, f"Literal value {text(a)} is not a literal")
        if not values:
            return {}
        out: Schema = {"const": values[0]} if len(values) == 1 else {"enum": values}
        types = {type(v) for v in values}
        for py, js in ((str, "string"), (int, "integer"), (float, "number"), (bool, "boolean")):
            if types == {py}:
                out["type"] = js
        if types == {type(None)}:
            out["type"] = "null"
        return out

    def union(self, members: list[Expr], module: str) -> tuple[Schema, bool]:
        flat = self._flatten([(m, module) for m in members], set())
        nullable = any(_is_none(m) for m, _ in flat)
        rest = [(m, mod) for m, mod in flat if not _is_none(m)]
        if not rest:
            return {"type": "null"}, False
        gens = [self.gen(m, mod) for m, mod in rest]
        if len(gens) == 1:
            inner, titled = gens[0]
        else:
            inner, titled = _anyof([g[0] for g in gens]), False
        if not nullable:
            return inner, titled
        return _anyof([inner, {"type": "null"}]), titled

    def _flatten(
        self, members: list[tuple[Expr, str]], seen: set[tuple[str, ...]]
    ) -> list[tuple[Expr, str]]:
        """Union members as typing flattens them at run time: nested unions, Optional, plain
        aliases of unions, duplicates removed."""
        out: list[tuple[Expr, str]] = []
        for m, mod in members:
            if m[0] == "or":
                out.extend(self._flatten([(m[1], mod), (m[2], mod)], seen))
                continue
            if m[0] == "sub":
                head = self.index.resolve_follow(m[1], mod)
                if head == ("ext", "typing.Union"):
                    out.extend(self._flatten([(x, mod) for x in m[2]], seen))
                    continue
                if head == ("ext", "typing.Optional") and len(m[2]) == 1:
                    out.extend(self._flatten([(m[2][0], mod), (["const", None, m[-1]], mod)], seen))
                    continue
            if m[0] in ("name", "attr"):
                ref = self.index.resolve_follow(m, mod)
                if ref[0] == "def":
                    info = self.index.get_def(ref)
                    if info["k"] == "var" and self._is_union(info["value"], ref[1]):
                        if ref not in seen:
                            seen.add(ref)
                            out.extend(self._flatten([(info["value"], ref[1])], seen))
                        continue
                if ref in seen:
                    continue
                seen.add(ref)
            elif _is_none(m):
                if ("None",) in seen:
                    continue
                seen.add(("None",))
            out.append((m, mod))
        return out

    def _is_union(self, e: Expr, module: str) -> bool:
        if e[0] == "or":
            return True
        if e[0] == "sub":
            head = self.index.resolve_follow(e[1], module)
            return head in (("ext", "typing.Union"), ("ext", "typing.Optional"))
        return False

    # -- Annotated metadata and enum members ---------------------------------------------
    def read_metadata(self, metas: list[Expr], module: str, info: FieldInfo) -> None:
        for meta in metas:
            if meta[0] == "call":
                head = self.index.resolve_follow(meta[1], module)
                if head == ("ext", "pydantic.Field"):
                    read_field_call(self, meta, module, info)
                    continue
            if meta[0] == "const":
                continue  # pydantic ignores plain values (e.g. documentation strings)
            self.diag("QG201", module, meta, f"unsupported Annotated metadata {text(meta)}")

    def class_kind(self, ref: Ref) -> str:
        from qgen.codegen.scan.classes import class_kind

        return class_kind(self, ref)

    def enum_member_value(self, e: Expr, module: str) -> Any:
        ref = self.index.resolve(e, module)
        if ref[0] != "member":
            return MISSING
        from qgen.codegen.scan.classes import class_kind, enum_values

        cls = ("def", ref[1], ref[2])
        if self.index.get_def(cls)["k"] != "class" or class_kind(self, cls) != "enum":
            return MISSING
        values = enum_values(self, cls)
        return values.get(ref[3], MISSING) if values is not None else MISSING

    # -- $defs -----------------------------------------------------------------------------
    def define(self, ref: Ref, make: Any) -> Schema:
        """A $ref to the definition of ``ref``, generating it once (recursion-safe)."""
        key = f"{ref[1]}.{ref[2]}"
        if self._stack:
            self._stack[-1].add(key)
        if key not in self._defs:
            self._adopt(key) if key in self._memo else self._make(key, ref[2], make)
        return {"$ref": _REF + key}

    def definition(self, ref: str) -> Schema:
        """The (possibly still incomplete) definition a ``$ref`` made by this build points at."""
        return self._defs.get(ref[len(_REF) :], {})

    def _make(self, key: str, short: str, make: Any) -> None:
        self._defs[key] = {}
        self._short[key] = short
        failed, self._failed = self._failed, False
        self._stack.append(set())
        try:
            self._defs[key] = make()
        finally:
            deps = self._stack.pop()
        self._memo[key] = (self._defs[key], short, deps, self._failed)
        self._failed = failed or self._failed

    def _adopt(self, key: str) -> None:
        """Reuse a definition made for an earlier root, with everything it refers to."""
        schema, short, deps, failed = self._memo[key]
        self._defs[key] = schema
        self._short[key] = short
        self._failed = self._failed or failed
        for dep in sorted(deps):
            if dep not in self._defs and dep in self._memo:
                self._adopt(dep)

    def _finish(self, root: Schema) -> Schema:
        names = _def_names(self._short)
        defs = self._defs
        if set(root) == {"$ref"}:
            key = root["$ref"][len(_REF) :]
            if not any(key in self._memo[k][2] for k in defs if k in self._memo):
                root = defs[key]
                defs = {k: v for k, v in defs.items() if k != key}
        out = _rename(root, names)
        if defs:
            out["$defs"] = {names[k]: _rename(v, names) for k, v in sorted(defs.items())}
        return dict(out)


def _is_none(e: Expr) -> bool:
    return e[0] == "const" and e[1] is None


def _anyof(schemas: list[Schema]) -> Schema:
    members: list[Schema] = []
    for s in schemas:
        if len(s) == 1 and "anyOf" in s:
            members.extend(s["anyOf"])
        else:
            members.append(s)
    unique: list[Schema] = []
    for m in members:
        if m not in unique:
            unique.append(m)
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _def_names(short: dict[str, str]) -> dict[str, str]:
    counts: dict[str, int] = {}
    for name in short.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        key: name if counts[name] == 1 else key.replace(".", "__") for key, name in short.items()
    }


def _rename(v: Any, names: dict[str, str]) -> Any:
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, x in v.items():
            if k == "$ref" and isinstance(x, str) and x.startswith(_REF):
                out[k] = _REF + names[x[len(_REF) :]]
            elif k == "discriminator" and isinstance(x, dict) and "mapping" in x:
                mapping = {t: _REF + names[r[len(_REF) :]] for t, r in x["mapping"].items()}
                out[k] = {**x, "mapping": mapping}
            else:
                out[k] = _rename(x, names)
        return out
    if isinstance(v, list):
        return [_rename(x, names) for x in v]
    return v

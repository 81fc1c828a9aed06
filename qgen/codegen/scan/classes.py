"""Class definitions -> JSON Schema: pydantic models, TypedDicts, dataclasses and enums."""

from __future__ import annotations

from typing import Any

from qgen.codegen.scan.builder import Builder, Schema
from qgen.codegen.scan.expr import Expr, NotLiteral, literal, text
from qgen.codegen.scan.fields import (
    MISSING,
    FieldInfo,
    apply_constraints,
    decorate,
    default_value,
    read_dataclass_field,
    read_field_call,
)
from qgen.codegen.scan.resolve import Ref
from qgen.codegen.scan.summary import parse_annotation

_ENUM_BASES = {"enum.Enum": None, "enum.IntEnum": "int", "enum.StrEnum": "str"}
_KINDS = ("model", "root", "typeddict", "typing_typeddict", "enum")
_ROOT = ("ext", "pydantic.RootModel")
_FIELD = ("ext", "pydantic.Field")
# model_config keys that do not change a validation-mode JSON Schema; any other key (e.g.
# alias_generator, use_attribute_docstrings, json_schema_extra) is reported, not ignored.
_CONFIG_NO_SCHEMA_EFFECT = frozenset(
    {
        "frozen", "strict", "populate_by_name", "validate_by_name", "validate_by_alias",
        "validate_assignment", "arbitrary_types_allowed", "from_attributes",
        "str_strip_whitespace", "str_to_lower", "str_to_upper", "revalidate_instances",
        "protected_namespaces", "use_enum_values", "validate_default", "validate_return",
        "defer_build", "hide_input_in_errors", "loc_by_alias", "coerce_numbers_to_str",
        "regex_engine", "cache_strings", "serialize_by_alias", "ser_json_inf_nan",
        "ignored_types", "plugin_settings", "experimental_warn_on_unknown_fields", "metaclass",
    }
)  # fmt: skip


def class_kind(b: Builder, ref: Ref, depth: int = 0) -> str:
    """model, typeddict, typing_typeddict, enum, dataclass or other."""
    info = b.index.get_def(ref)
    if info["k"] != "class" or depth > 32:
        return "other"
    mod = ref[1]
    for base in info["bases"]:
        if base[0] == "sub" and b.index.resolve_follow(base[1], mod) == _ROOT:
            return "root"
        r = b.index.resolve_follow(base, mod)
        if r[0] == "ext":
            name = r[1]
            if r == _ROOT:
                return "root"
            if name == "pydantic.BaseModel":
                return "model"
            if name == "typing_extensions.TypedDict":
                return "typeddict"
            if name == "typing.TypedDict":
                return "typing_typeddict"
            if name in _ENUM_BASES:
                return "enum"
        elif r[0] == "def":
            kind = class_kind(b, r, depth + 1)
            if kind in _KINDS:
                return kind
    for deco in info["decos"]:
        head = deco[1] if deco[0] == "call" else deco
        if b.index.resolve_follow(head, mod) == ("ext", "dataclasses.dataclass"):
            return "dataclass"
    return "other"


def class_schema(b: Builder, ref: Ref, e: Expr, module: str) -> Schema:
    kind = class_kind(b, ref)
    if kind == "typing_typeddict":
        b.diag(
            "QG202",
            module,
            e,
            f"{text(e)} is a typing.TypedDict, which pydantic does not validate on Python < 3.12;"
            " use typing_extensions.TypedDict",
        )
        return {}
    if kind == "other":
        b.diag(
            "QG201",
            module,
            e,
            f"{text(e)} is not a pydantic model, TypedDict, dataclass or Enum",
        )
        return {}
    if kind == "enum":
        return b.define(ref, lambda: _enum_schema(b, ref))
    if kind == "root":
        return b.define(ref, lambda: _root_schema(b, ref, e, module))
    return b.define(ref, lambda: _object_schema(b, ref, kind))


def _def_bases(b: Builder, ref: Ref) -> list[Ref]:
    info = b.index.get_def(ref)
    out = []
    for base in info["bases"]:
        r = b.index.resolve_follow(base, ref[1])
        if r[0] == "def" and b.index.get_def(r)["k"] == "class":
            out.append(r)
    return out


def _mro(b: Builder, ref: Ref, depth: int = 0) -> list[Ref]:
    """Bases first, the class last (a simple linearization; diamonds keep first sight)."""
    out: list[Ref] = []
    if depth < 32:
        for base in reversed(_def_bases(b, ref)):
            for r in _mro(b, base, depth + 1):
                if r not in out:
                    out.append(r)
    out.append(ref)
    return out


def _config(b: Builder, chain: list[Ref]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for ref in chain:
        info = b.index.get_def(ref)
        for key, value in info["kw"]:
            if key in ("extra", "title", "total"):
                config[key] = _literal(b, value, ref[1])
            elif key not in _CONFIG_NO_SCHEMA_EFFECT:
                b.diag("QG203", ref[1], value, f"class keyword {key}= is not supported by qgen")
        for entry in info["body"]:
            if entry["name"] == "model_config" and entry["value"] is not None:
                value = entry["value"]
                items: list[tuple[str, Expr]] = []
                if value[0] == "call":
                    items = [(k, v) for k, v, _ in value[3]]
                elif value[0] == "dict":
                    items = [(k[1], v) for k, v in value[1] if k[0] == "const"]
                for key, v in items:
                    if key in ("extra", "title"):
                        config[key] = _literal(b, v, ref[1])
                    elif key not in _CONFIG_NO_SCHEMA_EFFECT:
                        b.diag("QG203", ref[1], v, f"model_config {key} is not supported by qgen")
    return config


def _literal(b: Builder, e: Expr, module: str) -> Any:
    try:
        return literal(e)
    except NotLiteral:
        b.diag("QG203", module, e, f"{text(e)} is not a literal qgen can evaluate")
        return None


def _unwrap(b: Builder, ann: Expr, module: str) -> tuple[Expr, list[Expr], bool | None, bool]:
    """Peel Annotated / Required / NotRequired / ClassVar: (type, metadata, required, classvar)."""
    metas: list[Expr] = []
    required: bool | None = None
    while True:
        if ann[0] == "const" and isinstance(ann[1], str):
            parsed = parse_annotation(ann[1], ann[-1])
            if parsed is None:
                return ann, metas, required, False
            ann = parsed
            continue
        if ann[0] in ("name", "attr"):
            head = b.index.resolve_follow(ann, module)
            return ann, metas, required, head == ("ext", "typing.ClassVar")
        if ann[0] != "sub" or not ann[2]:
            return ann, metas, required, False
        head = b.index.resolve_follow(ann[1], module)
        name = head[1] if head[0] == "ext" else ""
        if name == "typing.Annotated":
            metas.extend(ann[2][1:])
            ann = ann[2][0]
        elif name in ("typing.Required", "typing.NotRequired"):
            required = name == "typing.Required"
            ann = ann[2][0]
        elif name == "typing.ReadOnly":
            ann = ann[2][0]
        elif name == "typing.ClassVar":
            return ann, metas, required, True
        else:
            return ann, metas, required, False


def _object_schema(b: Builder, ref: Ref, kind: str) -> Schema:
    # pydantic also collects the annotations of plain mixin classes in a model's MRO
    kinds = (kind, "other") if kind == "model" else (kind,)
    chain = [r for r in _mro(b, ref) if class_kind(b, r) in kinds]
    config = _config(b, chain)
    fields: dict[str, tuple[dict[str, Any], Ref, bool]] = {}
    for cls in chain:
        cls_total = True
        if kind == "typeddict":
            for key, value in b.index.get_def(cls)["kw"]:
                if key == "total":
                    cls_total = bool(_literal(b, value, cls[1]))
        for entry in b.index.get_def(cls)["body"]:
            name = entry["name"]
            if entry["ann"] is None or name.startswith("_") or name == "model_config":
                continue
            fields[name] = (entry, cls, cls_total)
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, (entry, cls, total) in fields.items():
        mod = cls[1]
        ann, metas, req, classvar = _unwrap(b, entry["ann"], mod)
        if classvar:
            continue
        info = FieldInfo()
        b.read_metadata(metas, mod, info)
        value = entry["value"]
        if value is not None and kind != "typeddict":
            head = b.index.resolve_follow(value[1], mod) if value[0] == "call" else None
            if head == ("ext", "pydantic.Field"):
                read_field_call(b, value, mod, info)
            elif head == ("ext", "dataclasses.field"):
                read_dataclass_field(b, value, mod, info)
            else:
                info.default = default_value(b, value, mod)
        if kind == "dataclass" and not info.init and info.required:
            continue  # as pydantic: set in __post_init__, not validated input
        schema, titled = b.gen(ann, mod)
        schema = apply_constraints(b, schema, info, mod, ann)
        key = info.alias or name
        title = None if titled else key.title().replace("_", " ").strip()
        props[key] = decorate(schema, info, title=title)
        is_required = (req if req is not None else total) if kind == "typeddict" else info.required
        if is_required:
            required.append(key)
    out: Schema = {"properties": props}
    if required:
        out["required"] = required
    cls_info = b.index.get_def(ref)
    out["title"] = config.get("title") or ref[2]
    out["type"] = "object"
    if cls_info["doc"]:
        out["description"] = cls_info["doc"]
    if config.get("extra") == "forbid":
        out["additionalProperties"] = False
    elif config.get("extra") == "allow":
        out["additionalProperties"] = True
    return out


def _root_schema(b: Builder, ref: Ref, e: Expr, module: str) -> Schema:
    """A RootModel: the schema of its root type, titled by the class."""
    chain = [r for r in _mro(b, ref) if class_kind(b, r) == "root"]
    schema: Schema | None = None
    for cls in reversed(chain):  # the most derived declaration of the root type wins
        info = b.index.get_def(cls)
        for entry in info["body"]:
            if entry["name"] == "root" and entry["ann"] is not None:
                ann, metas, _req, _cv = _unwrap(b, entry["ann"], cls[1])
                field = FieldInfo()
                b.read_metadata(metas, cls[1], field)
                value = entry["value"]
                is_call = value is not None and value[0] == "call"
                if is_call and b.index.resolve_follow(value[1], cls[1]) == _FIELD:
                    read_field_call(b, value, cls[1], field)
                got, _ = b.gen(ann, cls[1])
                schema = decorate(apply_constraints(b, got, field, cls[1], ann), field, title=None)
                break
        if schema is None:
            for base in info["bases"]:
                if base[0] == "sub" and b.index.resolve_follow(base[1], cls[1]) == _ROOT:
                    schema = dict(b.gen(base[2][0], cls[1])[0]) if base[2] else {}
        if schema is not None:
            break
    if schema is None:
        b.diag("QG201", module, e, f"{text(e)}: RootModel without a root type")
        return {}
    config = _config(b, chain)
    schema["title"] = config.get("title") or ref[2]
    if b.index.get_def(ref)["doc"]:
        schema["description"] = b.index.get_def(ref)["doc"]
    return schema


def enum_values(b: Builder, ref: Ref) -> dict[str, Any] | None:
    """Member name -> value, or None (with a diagnostic) when a value is not a literal."""
    info = b.index.get_def(ref)
    base_kind = None
    for r in _mro(b, ref):
        for base in b.index.get_def(r)["bases"]:
            got = b.index.resolve_follow(base, r[1])
            if got[0] == "ext" and got[1] in _ENUM_BASES:
                base_kind = _ENUM_BASES[got[1]] or base_kind
            elif got in (("ext", "builtins.str"), ("ext", "builtins.int")):
                base_kind = base_kind or got[1].split(".")[1]
    values: dict[str, Any] = {}
    last = 0
    ok = True
    for entry in info["body"]:
        name, value = entry["name"], entry["value"]
        if name.startswith("_") or value is None:  # annotated members are members too
            continue
        if value[0] == "call" and b.index.resolve_follow(value[1], ref[1]) == ("ext", "enum.auto"):
            if base_kind == "str":
                values[name] = name.lower()
            else:
                last += 1
                values[name] = last
            continue
        try:
            member: Any = literal(value)
        except NotLiteral:
            b.diag("QG201", ref[1], value, f"enum member {name} = {text(value)} is not a literal")
            ok = False
            continue
        if isinstance(member, tuple):
            member = list(member)
        values[name] = member
        if isinstance(member, int) and not isinstance(member, bool):
            last = member
    return values if ok else None


def _enum_schema(b: Builder, ref: Ref) -> Schema:
    info = b.index.get_def(ref)
    values = enum_values(b, ref) or {}
    out: Schema = {"title": ref[2]}
    if info["doc"]:
        out["description"] = info["doc"]
    unique = list(values.values())  # pydantic lists aliases' values too
    out["enum"] = unique
    types = {type(v) for v in unique}
    for py, js in ((str, "string"), (int, "integer"), (float, "number"), (bool, "boolean")):
        if types == {py}:
            out["type"] = js
    if types == {list}:
        out["type"] = "array"
    return out


__all__ = ["MISSING", "class_kind", "class_schema", "enum_values"]

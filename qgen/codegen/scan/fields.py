"""Field information: ``Field(...)``, ``dataclasses.field(...)``, ``Annotated`` metadata and
defaults, read statically and turned into the JSON Schema keys pydantic would emit."""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass, field
from typing import Any

from qgen.codegen.scan.builder import Builder
from qgen.codegen.scan.expr import Expr, NotLiteral, as_set, literal, pos, text
from qgen.codegen.scan.summary import parse_annotation

MISSING: Any = object()
_NOT_FINITE = "is not a finite number: JSON (job data, schemas) cannot carry NaN or Infinity"
_NON_FINITE = (("ext", "math.inf"), ("ext", "math.nan"))
_EXTRA_RULE = "must be a literal dict without x-qgen- keys (qgen's own marks)"


class NotFinite(NotLiteral):
    """A NaN or an infinity where a JSON value is needed."""

    def __init__(self, expr: Expr) -> None:
        super().__init__(expr, "not finite")


# Field(...) arguments that change nothing in a validation-mode JSON Schema.
_NO_SCHEMA_EFFECT = frozenset(
    {
        "strict", "frozen", "repr", "exclude", "init", "init_var", "kw_only", "validate_default",
        "union_mode", "coerce_numbers_to_str", "fail_fast", "allow_inf_nan",
        "serialization_alias", "alias_priority", "compare", "hash", "exclude_if",
    }
)  # fmt: skip
_TYPEDDICTS = ("typeddict", "typing_typeddict")
_FIELD_ARGS = frozenset(
    {
        "default", "default_factory", "alias", "validation_alias", "title", "description",
        "examples", "gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern",
        "discriminator", "json_schema_extra", "deprecated", "max_digits", "decimal_places",
        "field_title_generator",
    }
) | _NO_SCHEMA_EFFECT  # fmt: skip
_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")
_NUMBER_KEYS = {
    "gt": "exclusiveMinimum",
    "ge": "minimum",
    "lt": "exclusiveMaximum",
    "le": "maximum",
    "multiple_of": "multipleOf",
}
_LENGTH_KEYS = {
    "string": ("minLength", "maxLength"),
    "array": ("minItems", "maxItems"),
    "object": ("minProperties", "maxProperties"),
}


@dataclass
class FieldInfo:
    default: Any = MISSING
    factory: bool = False
    alias: str | None = None
    title: str | None = None
    description: str | None = None
    examples: Any = MISSING
    deprecated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=dict)
    discriminator: str | None = None
    init: bool = True  # dataclass fields with init=False are not part of the input

    @property
    def required(self) -> bool:
        return self.default is MISSING and not self.factory


def read_field_call(b: Builder, call: Expr, module: str, info: FieldInfo) -> None:
    """Merge a ``pydantic.Field(...)`` call into ``info``."""
    if call[2]:
        first = call[2][0]
        if first[0] != "ellipsis":
            info.default = default_value(b, first, module)
    for key, value, _p in call[3]:
        if key == "default":
            if value[0] != "ellipsis":
                info.default = default_value(b, value, module)
        elif key == "default_factory":
            info.factory = True
        elif key in (
            "alias",
            "validation_alias",
            "title",
            "description",
            "pattern",
            "discriminator",
        ):
            got = _lit(b, value, module)
            if got is MISSING:
                continue
            if not isinstance(got, str):
                b.diag("QG203", module, value, f"Field({key}=...) must be a string literal")
            elif key in ("alias", "validation_alias"):
                info.alias = got
            elif key == "pattern":
                info.constraints[key] = got
            elif key == "discriminator":
                info.discriminator = got
            else:
                setattr(info, key, got)
        elif key in _CONSTRAINTS:
            got = _lit(b, value, module)
            if got is not MISSING:
                info.constraints[key] = got
        elif key == "examples":
            got = _lit(b, value, module)
            if got is not MISSING:
                info.examples = _jsonable(got)
        elif key == "deprecated":
            got = _lit(b, value, module)
            info.deprecated = bool(got) if got is not MISSING else False
        elif key == "json_schema_extra":
            got = _lit(b, value, module)
            if isinstance(got, dict) and not any(str(k).startswith("x-qgen-") for k in got):
                info.extra.update(_jsonable(got))
            elif got is not MISSING:
                b.diag("QG203", module, value, f"Field(json_schema_extra=...) {_EXTRA_RULE}")
        elif key == "init":
            info.init = _lit(b, value, module) is not False
        elif key not in _NO_SCHEMA_EFFECT:
            b.diag("QG203", module, value, f"Field({key}=...) is not supported by qgen's scanner")


def read_dataclass_field(b: Builder, call: Expr, module: str, info: FieldInfo) -> None:
    for key, value, _p in call[3]:
        if key == "default":
            info.default = default_value(b, value, module)
        elif key == "default_factory":
            info.factory = True
        elif key == "metadata":
            _read_metadata_dict(b, value, module, info)
        elif key == "init":
            info.init = _lit(b, value, module) is not False


def _read_metadata_dict(b: Builder, e: Expr, module: str, info: FieldInfo) -> None:
    """pydantic reads ``field(metadata=...)`` as ``Field(**metadata)``, ignoring unknown keys."""
    items: list[list[Any]] = []
    if e[0] == "dict" and all(k[0] == "const" for k, _ in e[1]):
        items = [[k[1], v, v[-1]] for k, v in e[1]]
    elif e[0] == "call" and not e[2]:
        head = b.index.resolve_follow(e[1], module)
        is_dict = head == ("ext", "builtins.dict")
        if is_dict or (head[0] == "def" and b.class_kind(head) in _TYPEDDICTS):
            items = list(e[3])
        else:
            b.diag("QG203", module, e, f"field metadata {text(e)} is not a literal dict")
            return
    else:
        b.diag("QG203", module, e, f"field metadata {text(e)} is not a literal dict")
        return
    known = [item for item in items if item[0] in _FIELD_ARGS]
    read_field_call(b, ["call", e, [], known, e[-1]], module, info)


def default_value(b: Builder, e: Expr, module: str) -> Any:
    """A default as JSON (enum members by value, tuples as lists); QG203 when not a literal,
    QG204 when not finite."""
    try:
        return _jsonable(_evaluate(b, e, module))
    except NotFinite as exc:
        b.diag("QG204", module, e, f"default {_shown(e, exc.expr)} {_NOT_FINITE}")
        return MISSING
    except NotLiteral as exc:
        b.diag("QG203", module, exc.expr, f"default {text(e)} is not a literal qgen can evaluate")
        return MISSING


_EMPTY: dict[str, Any] = {
    "builtins.list": [],
    "builtins.tuple": [],
    "builtins.set": [],
    "builtins.frozenset": [],
    "builtins.dict": {},
}


def _evaluate(b: Builder, e: Expr, module: str, depth: int = 0) -> Any:
    """``literal`` plus what is as certain without running code: enum members
    (``Color.RED``), module-level constants of the scanned packages (``DEFAULT_LIMIT``, also
    negated), empty ``list()`` / ``dict()`` / ``set()`` / ``frozenset()`` / ``tuple()``,
    ``float("1.5")`` and ``Decimal("1.5")``, also nested. NaN and infinities are NotFinite."""
    kind = e[0]
    if kind in ("name", "attr") and depth < 16:
        if kind == "attr":
            value = b.enum_member_value(e, module)
            if value is not MISSING:
                return value
        ref = b.index.resolve_follow(e, module)
        if ref in _NON_FINITE:
            raise NotFinite(e)
        if ref[0] == "def":
            info = b.index.get_def(ref)
            if info["k"] == "var":
                return _evaluate(b, info["value"], ref[1], depth + 1)
    if kind == "call" and not e[2] and not e[3]:
        head = b.index.resolve_follow(e[1], module)
        if head[0] == "ext" and head[1] in _EMPTY:
            return type(_EMPTY[head[1]])()
    if kind == "call" and len(e[2]) == 1 and not e[3]:
        return _number_call(b, e, module)
    if kind == "const" and isinstance(e[1], float) and not math.isfinite(e[1]):
        raise NotFinite(e)
    if kind == "?" and isinstance(e[1], str) and e[1].startswith("-") and depth < 16:
        return _negated(b, e, module, depth)
    if kind in ("list", "tuple", "set"):
        items = [_evaluate(b, x, module, depth) for x in e[1]]
        return as_set(items, e) if kind == "set" else items
    if kind == "dict":
        return {literal(k): _evaluate(b, v, module, depth) for k, v in e[1]}
    return literal(e)


def _negated(b: Builder, e: Expr, module: str, depth: int) -> Any:
    """``-NAME``, ``-math.inf``: the summary keeps a minus before anything but a number as
    source text; read what follows it, and negate a number."""
    inner = parse_annotation(e[1][1:], list(pos(e)))
    value = MISSING if inner is None else _evaluate(b, inner, module, depth + 1)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotLiteral(e, text(e))
    return -value


def _shown(e: Expr, inner: Expr) -> str:
    outer = text(e)
    return outer if inner is e else f"{outer} (holding {text(inner)})"


def _number_call(b: Builder, e: Expr, module: str) -> Any:
    """``float("1.5")`` and ``Decimal("1.5")`` (as pydantic writes a Decimal default: its
    string); ``float("nan")``, ``Decimal("Infinity")`` and the like are :class:`NotFinite`."""
    head = b.index.resolve_follow(e[1], module)
    arg = e[2][0]
    value = arg[1] if arg[0] == "const" else None
    if head not in (("ext", "builtins.float"), ("ext", "decimal.Decimal")) or (
        isinstance(value, bool) or not isinstance(value, str | int | float)
    ):
        raise NotLiteral(e, text(e))
    try:
        if head == ("ext", "builtins.float"):
            number = float(value)
            if not math.isfinite(number):
                raise NotFinite(e)
            return number
        exact = decimal.Decimal(value)
    except (ValueError, decimal.InvalidOperation):
        raise NotLiteral(e, text(e)) from None
    if not exact.is_finite():
        raise NotFinite(e)
    return str(exact)


def _lit(b: Builder, e: Expr, module: str) -> Any:
    try:
        return _evaluate(b, e, module)
    except NotFinite as exc:
        b.diag("QG204", module, e, f"{_shown(e, exc.expr)} {_NOT_FINITE}")
        return MISSING
    except NotLiteral as exc:
        b.diag("QG203", module, exc.expr, f"{text(e)} is not a literal qgen can evaluate")
        return MISSING


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def apply_constraints(
    b: Builder, schema: dict[str, Any], info: FieldInfo, module: str, where: Expr
) -> dict[str, Any]:
    """Put Field constraints on the schema of the type they constrain (through ``X | None``)."""
    if info.discriminator is not None:
        schema = _discriminate(b, schema, info.discriminator, module, where)
    if not info.constraints:
        return schema
    target = schema
    members = schema.get("anyOf")
    if isinstance(members, list) and len(schema) == 1:
        real = [m for m in members if m != {"type": "null"}]
        if len(real) == 1 and len(members) == 2:
            target = dict(real[0])
            schema = {"anyOf": [target if m is real[0] else m for m in members]}
    kind = target.get("type")
    for key, value in info.constraints.items():
        if key in _NUMBER_KEYS and kind in ("integer", "number"):
            target[_NUMBER_KEYS[key]] = value
        elif key == "pattern" and kind == "string":
            target["pattern"] = value
        elif key in ("min_length", "max_length") and kind in _LENGTH_KEYS:
            target[_LENGTH_KEYS[kind][key == "max_length"]] = value
        else:
            b.diag("QG203", module, where, f"constraint {key} cannot be applied to {text(where)}")
    return schema


def decorate(schema: dict[str, Any], info: FieldInfo, *, title: str | None) -> dict[str, Any]:
    """Field-level keys: title, description, examples, default, deprecated, extra."""
    out = dict(schema)
    if info.title is not None:
        out["title"] = info.title
    elif title is not None:
        out["title"] = title
    if info.description is not None:
        out["description"] = info.description
    if info.examples is not MISSING:
        out["examples"] = info.examples
    if info.default is not MISSING:
        out["default"] = info.default
    if info.deprecated:
        out["deprecated"] = True
    out.update(info.extra)
    return out


def _discriminate(
    b: Builder, schema: dict[str, Any], prop: str, module: str, where: Expr
) -> dict[str, Any]:
    """A union of definitions tagged by ``prop`` -> pydantic's ``oneOf`` + ``discriminator``."""
    members = schema.get("anyOf")
    if not isinstance(members, list) or len(schema) != 1:
        members = []
    null = {"type": "null"}
    refs = [m for m in members if m != null]
    mapping: dict[str, str] = {}
    for ref in refs:
        target = ref.get("$ref") if len(ref) == 1 else None
        props = b.definition(target).get("properties", {}) if isinstance(target, str) else {}
        tag = props.get(prop, {})
        values = [tag["const"]] if "const" in tag else tag.get("enum", [])
        if not values or not isinstance(target, str):
            mapping = {}
            break
        for value in values:
            mapping[str(value)] = target
    if len(refs) < 2 or not mapping:
        b.diag(
            "QG203",
            module,
            where,
            f"discriminator {prop!r} needs a union of models tagged by Literal {prop}",
        )
        return schema
    tagged = {"discriminator": {"mapping": mapping, "propertyName": prop}, "oneOf": refs}
    return {"anyOf": [tagged, null]} if len(refs) < len(members) else tagged

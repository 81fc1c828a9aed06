"""Source of one definition: a pydantic model and its TypedDict twin, or a type alias (and its
dict-flavoured twin when that differs), written by qgen from the merged JSON Schemas.

Field names: a JSON key that is not a usable Python attribute (``from``, ``message-id``, a name
of ``BaseModel`` or of the module) gets a cleaned name and ``Field(alias=key)``, so payloads
travel by the key the JSON Schema states. TypedDict twins are keyed by the JSON keys themselves
(functional syntax when a key is not an identifier).

Defaults: a default that type-checks as written is written as is (a ``Decimal``'s as
``decimal.Decimal("1.50")``); one whose JSON form differs from the Python type (a date as a
string, a model as a dict) goes through ``_schema_default``, typed ``Any`` for the type checkers
(the value never travels: the client sends only the fields that were set). A field that may be
left out but has no default
(``default_factory``, ``NotRequired``) is ``X | MISSING = MISSING`` (pydantic's sentinel): left
out, it reads as ``MISSING`` and is never serialized, so it stays absent on the way to the
worker (whose own default or factory then applies) and back.
"""

from __future__ import annotations

import functools
import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from qgen.codegen.literals import doc_literal, py_literal
from qgen.codegen.pytypes import (
    DICT,
    MODEL,
    REF,
    Raw,
    TypeWriter,
    Unsupported,
    is_decimal,
    kwargs_text,
)
from qgen.codegen.schema_merge import RESERVED

# What a field must not shadow: BaseModel's v1-era methods (a closed list: pydantic puts new API
# under ``model_``) and, for a ``model_`` name, the installed pydantic's own attributes (imported
# only then: a build whose fields need no check never loads pydantic).
V1_ATTRS = frozenset(
    {"construct", "copy", "dict", "from_orm", "json", "parse_file", "parse_obj", "parse_raw",
     "schema", "schema_json", "update_forward_refs", "validate"}
)  # fmt: skip


@functools.cache
def _model_attrs() -> frozenset[str]:
    from pydantic import BaseModel

    return frozenset(dir(BaseModel))


def _shadows_model(name: str) -> bool:
    return name in _model_attrs() if name.startswith(("model_", "_")) else name in V1_ATTRS


_HELPERS = frozenset({"_schema_default"})
_NOT_IDENT = re.compile(r"[^A-Za-z0-9_]+")


def is_object(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "object" and "properties" in schema


@dataclass
class Piece:
    """The source of one definition and what it needs."""

    source: str  # for an alias: its value, which assembly wraps (quoted if it refers ahead)
    refs: set[str] = field(default_factory=set)  # generated names it refers to
    uses: set[str] = field(default_factory=set)  # imports
    eager: bool = False  # an alias value, evaluated at import time: order matters


def _field_names(keys: list[str], taken: set[str]) -> dict[str, str]:
    """JSON key -> Python attribute name, unique within the model."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for key in keys:
        name = key
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            name = _NOT_IDENT.sub("_", key).strip("_") or "field"
            if name[0].isdigit():
                name = "f_" + name
        while (
            name in used
            or name in taken
            or _shadows_model(name)
            or keyword.iskeyword(name)
            or keyword.issoftkeyword(name)
        ):
            name += "_"
        used.add(name)
        out[key] = name
    return out


class ModelWriter:
    """Twins are made for the definitions a queue input reaches (``wanted``): outputs are read
    as models, never written as dicts."""

    def __init__(self, defs: dict[str, Any], reserved: set[str], wanted: set[str]) -> None:
        self.defs = defs
        self.reserved = reserved
        self.wanted = wanted
        self.taken = set(defs) | set(reserved) | RESERVED | _HELPERS
        self.twins: dict[str, str] = {}
        for name in sorted(n for n, s in defs.items() if is_object(s) and n in wanted):
            self.twins[name] = self._twin_name(name)
        self._alias_twins()

    def _twin_name(self, name: str) -> str:
        twin, n = f"{name}Dict", 1
        if name in self.reserved and twin in self.reserved:  # a queue's own input type
            return twin
        while twin in self.taken:
            n += 1
            twin = f"{name}Dict{n}"
        self.taken.add(twin)
        return twin

    def _alias_twins(self) -> None:
        """An alias gets a dict twin when its dict flavour differs (until nothing changes)."""
        changed = True
        while changed:
            changed = False
            for name, schema in sorted(self.defs.items()):
                if name in self.twins or is_object(schema) or name not in self.wanted:
                    continue
                try:
                    differs = self.writer().type(schema, MODEL) != self.writer().type(schema, DICT)
                except Unsupported:
                    continue
                if differs:
                    self.twins[name] = self._twin_name(name)
                    changed = True

    def name_of(self, name: str, flavor: str) -> str:
        if name not in self.defs:
            raise Unsupported(f"$ref to a missing definition {name!r}")
        return self.twins.get(name, name) if flavor == DICT else name

    def writer(self) -> TypeWriter:
        return TypeWriter(self.name_of)

    # -- classes ---------------------------------------------------------------------------
    def model_class(self, name: str, schema: dict[str, Any]) -> Piece:
        tw = self.writer()
        tw.uses.add("pydantic.BaseModel")
        props: dict[str, Any] = schema["properties"]
        required = set(schema.get("required", []))
        attrs = _field_names(list(props), self.taken)
        lines = [f"class {name}(BaseModel):"]
        if schema.get("description"):
            lines += ["    " + doc_literal(schema["description"], 4), ""]
        config: dict[str, Any] = {}
        extra = schema.get("additionalProperties")
        if extra is False or extra is True:
            config["extra"] = "forbid" if extra is False else "allow"
        elif extra is not None:
            raise Unsupported("additionalProperties with a schema beside properties")
        if any(attrs[k] != k for k in props):
            config["populate_by_name"] = True
        if config:
            tw.uses.add("pydantic.ConfigDict")
            lines += [f"    model_config = ConfigDict({kwargs_text(config)})", ""]
        for key, prop in props.items():
            lines.append("    " + self._field(tw, attrs[key], key, prop, key in required))
        if len(lines) == 1:
            lines.append("    pass")
        return Piece("\n".join(lines), tw.refs, tw.uses)

    def _field(self, tw: TypeWriter, attr: str, key: str, prop: Any, required: bool) -> str:
        ann, kwargs = tw.split(prop, MODEL)
        if not isinstance(prop, dict):
            prop = {}
        if attr != key:
            kwargs = {"alias": key, **kwargs}
        for doc_key, arg in (("title", "title"), ("description", "description")):
            if isinstance(prop.get(doc_key), str):
                kwargs[arg] = prop[doc_key]
        if "examples" in prop:
            kwargs["examples"] = prop["examples"]
        if prop.get("deprecated") is True:
            kwargs["deprecated"] = True
        default: str | None = None
        if "default" in prop:
            value = prop["default"]
            if _decimal_default(value, prop):
                tw.uses.add("decimal")
                default = f"decimal.Decimal({py_literal(str(value))})"
            elif self._plain_default(value, prop, 0):
                default = py_literal(value, nonfinite=True)
            else:
                tw.uses.add("qgen:_schema_default")
                default = f"_schema_default({py_literal(value, nonfinite=True)})"
        elif not required:  # may be left out, no default: absent stays absent (never sent)
            default = "MISSING"
            ann = f"{ann} | MISSING"
            tw.uses.add("pydantic.MISSING")
        if kwargs:
            tw.uses.add("pydantic.Field")
            if default is not None:
                kwargs = {"default": Raw(default), **kwargs}
            return f"{attr}: {ann} = Field({kwargs_text(kwargs)})"
        return f"{attr}: {ann}" if default is None else f"{attr}: {ann} = {default}"

    def _plain_default(self, value: Any, schema: Any, depth: int) -> bool:
        """Whether ``value`` type-checks as written against the type ``schema`` renders to."""
        if not isinstance(schema, dict) or depth > 20 or is_decimal(schema):
            return False
        members = schema.get("anyOf") or schema.get("oneOf")
        if isinstance(members, list):
            return any(self._plain_default(value, m, depth + 1) for m in members)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            target = self.defs.get(ref[len(REF) :])
            return not is_object(target) and self._plain_default(value, target, depth + 1)
        if "const" in schema or "enum" in schema:
            return value in ([schema.get("const")] if "const" in schema else schema["enum"])
        kind = schema.get("type")
        if value is None:
            return kind == "null"
        if isinstance(value, bool):
            return kind == "boolean"
        if isinstance(value, int | float):
            return kind == "number" or (kind == "integer" and isinstance(value, int))
        if isinstance(value, str):
            return kind == "string" and schema.get("format") not in _FORMATTED
        if value == [] and kind == "array":
            return "prefixItems" not in schema and not schema.get("uniqueItems")
        return value == {} and kind == "object" and not is_object(schema)

    def typed_dict(self, name: str, schema: dict[str, Any]) -> Piece:
        tw = self.writer()
        tw.uses.add("typing_extensions.TypedDict")
        twin = self.twins[name]
        props: dict[str, Any] = schema["properties"]
        required = set(schema.get("required", []))
        entries: list[tuple[str, str, bool]] = []  # key, type, required
        for key, prop in props.items():
            entries.append((key, tw.type(prop, DICT), key in required))
        if any(not req for _, _, req in entries):
            tw.uses.add("typing.NotRequired")
        doc = doc_literal(f"``{name}`` as a dict, keyed as its JSON is.", 4)
        if all(k.isidentifier() and not keyword.iskeyword(k) for k in props):
            body = [f"    {k}: {a if r else f'NotRequired[{a}]'}" for k, a, r in entries]
            source = "\n".join(
                [f"class {twin}(TypedDict):", "    " + doc, "", *(body or ["    pass"])]
            )
            return Piece(source, tw.refs, tw.uses)
        # Functional syntax: values run at import, so types are strings (NotRequired outside,
        # so the TypedDict's required keys stay right at run time too).
        items = ", ".join(
            f"{py_literal(k)}: {py_literal(a) if r else f'NotRequired[{py_literal(a)}]'}"
            for k, a, r in entries
        )
        return Piece(f"{twin} = TypedDict({twin!r}, {{{items}}})", tw.refs, tw.uses)

    # -- aliases ---------------------------------------------------------------------------
    def aliases(self, name: str, schema: Any) -> list[tuple[str, Piece]]:
        out = [(name, self._alias(name, schema, MODEL))]
        if name in self.twins:
            out.append((self.twins[name], self._alias(self.twins[name], schema, DICT)))
        return out

    def _alias(self, name: str, schema: Any, flavor: str) -> Piece:
        tw = self.writer()
        tw.uses.add("typing_extensions.TypeAliasType")
        return Piece(tw.type(schema, flavor), tw.refs, tw.uses, eager=True)


def _decimal_default(value: Any, prop: dict[str, Any]) -> bool:
    """Whether ``value`` is the JSON form of a ``Decimal`` default (``"1.5"``, as pydantic writes
    it), for a field whose type is a Decimal (or a Decimal or None)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    members = prop.get("anyOf")
    if not isinstance(members, list):
        return False
    real = [m for m in members if m != {"type": "null"}]
    return bool(real) and all(is_decimal(m) for m in real)


_FORMATTED = frozenset(
    {"date-time", "date", "time", "duration", "uuid", "uuid1", "uuid3", "uuid4", "uuid5",
     "binary", "ipv4", "ipv6"}
)  # fmt: skip

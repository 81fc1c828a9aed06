"""JSON Schema (as qgen's scanner writes it) -> Python type expressions, in two flavours:

- ``model``: what the pydantic models validate (``datetime.date``, constraints as
  ``Annotated[..., Field(...)]``, references to the model classes);
- ``dict``: what a caller may write in a dict literal (references to the TypedDict twins; dates,
  UUIDs and bytes also as their JSON strings; no constraints: type checkers cannot check them).

A schema keyword this module does not know raises :class:`Unsupported`; the definition is then
left to datamodel-code-generator (see ``models``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qgen.codegen.literals import py_literal

Schema = dict[str, Any]
REF = "#/$defs/"
MODEL, DICT = "model", "dict"
# Keywords that only document (they never change what validates).
DOC_KEYS = frozenset({"title", "description", "examples", "deprecated", "readOnly", "writeOnly"})
_CONSTRAINTS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "multipleOf": "multiple_of",
    "minItems": "min_length",
    "maxItems": "max_length",
    "minProperties": "min_length",
    "maxProperties": "max_length",
}
_FORMATS = {
    "date-time": "datetime.datetime",
    "date": "datetime.date",
    "time": "datetime.time",
    "duration": "datetime.timedelta",
    "uuid": "uuid.UUID",
    "uuid1": "pydantic.UUID1",
    "uuid3": "pydantic.UUID3",
    "uuid4": "pydantic.UUID4",
    "uuid5": "pydantic.UUID5",
    "binary": "bytes",
    "ipv4": "ipaddress.IPv4Address",
    "ipv6": "ipaddress.IPv6Address",
}
_SIMPLE = {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}
# The mark qgen's scanner puts on each member of a ``Decimal``'s schema (number | string).
DECIMAL_MARK = ("x-qgen-type", "decimal")


class Unsupported(Exception):
    """A schema shape qgen does not render itself."""


class TypeWriter:
    """Writes type expressions; records the imports they need in ``uses`` and the names they
    refer to in ``refs``. ``name_of(def_name, flavor)`` gives the name a ``$ref`` stands for."""

    def __init__(self, name_of: Callable[[str, str], str]) -> None:
        self.name_of = name_of
        self.uses: set[str] = set()  # "typing.Any", "datetime", "pydantic.Field", ...
        self.refs: set[str] = set()  # generated names referred to

    # -- entry points ----------------------------------------------------------------------
    def type(self, schema: Any, flavor: str) -> str:
        """The full type of ``schema``, constraints included (model flavour)."""
        base, constraints = self.split(schema, flavor)
        if constraints and flavor == MODEL:
            self.uses.update(("typing.Annotated", "pydantic.Field"))
            return f"Annotated[{base}, Field({kwargs_text(constraints)})]"
        return base

    def split(self, schema: Any, flavor: str) -> tuple[str, dict[str, Any]]:
        """(type, constraints of the outermost schema as Field keyword arguments)."""
        if schema is True or schema == {}:
            return self._any(), {}
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        if is_decimal(schema):
            return self._decimal(schema, flavor)
        s = {
            k: v
            for k, v in schema.items()
            if k not in DOC_KEYS and k != "default" and not k.startswith("x-")  # x-: extras
        }
        constraints = {_CONSTRAINTS[k]: s.pop(k) for k in list(s) if k in _CONSTRAINTS}
        if "$ref" in s:
            return self._ref(s, flavor), constraints
        if "anyOf" in s or "oneOf" in s:
            return self._union(s, flavor), constraints
        if "const" in s or "enum" in s:
            return self._literal(s), constraints
        kind = s.pop("type", None)
        if kind is None:
            if s:
                raise Unsupported(f"keywords {sorted(s)}")
            return self._any(), constraints
        if kind == "string":
            return self._string(s, flavor), constraints
        if kind in _SIMPLE:
            self._only(s)
            return _SIMPLE[kind], constraints
        if kind == "array":
            return self._array(s, flavor), constraints
        if kind == "object":
            return self._object(s, flavor), constraints
        raise Unsupported(f"type {kind!r}")

    # -- shapes ----------------------------------------------------------------------------
    def _any(self) -> str:
        self.uses.add("typing.Any")
        return "Any"

    def _only(self, s: Schema, *allowed: str) -> None:
        extra = set(s) - set(allowed)
        if extra:
            raise Unsupported(f"keywords {sorted(extra)}")

    def _decimal(self, schema: Schema, flavor: str) -> tuple[str, dict[str, Any]]:
        """``decimal.Decimal`` (a dict may also hold the float or string pydantic accepts)."""
        s = {k: v for k, v in schema.items() if k not in DOC_KEYS and k != "default"}
        s.pop(DECIMAL_MARK[0])
        constraints = {_CONSTRAINTS[k]: s.pop(k) for k in list(s) if k in _CONSTRAINTS}
        if s.pop("type", None) not in ("number", "string") or s or constraints:
            raise Unsupported("a Decimal with keywords beside its type")
        self.uses.add("decimal")
        return ("decimal.Decimal | float | str" if flavor == DICT else "decimal.Decimal"), {}

    def _ref(self, s: Schema, flavor: str) -> str:
        self._only(s, "$ref")
        ref = s["$ref"]
        if not isinstance(ref, str) or not ref.startswith(REF):
            raise Unsupported(f"$ref {ref!r}")
        name = self.name_of(ref[len(REF) :], flavor)
        self.refs.add(name)
        return name

    def _union(self, s: Schema, flavor: str) -> str:
        key = "anyOf" if "anyOf" in s else "oneOf"
        self._only(s, key, "discriminator")
        members = [part for m in s[key] for part in _top_level(self.type(m, flavor))]
        unique = list(dict.fromkeys(members))
        if "None" in unique:  # None last, as people write it
            unique = [m for m in unique if m != "None"] + ["None"]
        union = " | ".join(unique)
        tag = s.get("discriminator")
        if flavor == MODEL and isinstance(tag, dict) and isinstance(tag.get("propertyName"), str):
            self.uses.update(("typing.Annotated", "pydantic.Field"))
            return f"Annotated[{union}, Field(discriminator={py_literal(tag['propertyName'])})]"
        return union

    def _literal(self, s: Schema) -> str:
        values = [s["const"]] if "const" in s else s["enum"]
        self._only(s, "const", "enum", "type")
        if not isinstance(values, list) or not values:
            raise Unsupported("empty enum")
        for v in values:
            if not (v is None or isinstance(v, str | bool | int)):
                raise Unsupported(f"Literal value {v!r}")
        self.uses.add("typing.Literal")
        return f"Literal[{', '.join(py_literal(v) for v in values)}]"

    def _string(self, s: Schema, flavor: str) -> str:
        self._only(s, "format")
        fmt = s.get("format")
        python = _FORMATS.get(fmt) if isinstance(fmt, str) else None
        if python is None:
            return "str"
        if python.startswith("pydantic."):
            self.uses.add(python)
            python = python.removeprefix("pydantic.")
        elif "." in python:
            self.uses.add(python.split(".")[0])
        return f"{python} | str" if flavor == DICT else python

    def _array(self, s: Schema, flavor: str) -> str:
        if "prefixItems" in s:
            self._only(s, "prefixItems", "items")
            if s.get("items") not in (None, False):
                raise Unsupported("prefixItems with more items")
            return f"tuple[{', '.join(self.type(m, flavor) for m in s['prefixItems'])}]"
        self._only(s, "items", "uniqueItems")
        if "items" not in s:  # tuple[()] (its length constraints were taken off)
            return "tuple[()]"
        item = self.type(s["items"], flavor)
        if s.get("uniqueItems"):
            return f"list[{item}] | set[{item}]" if flavor == DICT else f"set[{item}]"
        return f"list[{item}]"

    def _object(self, s: Schema, flavor: str) -> str:
        """A dict; constrained keys (pydantic's ``patternProperties`` / ``propertyNames``)
        become the key type of the model flavour (``dict[Annotated[str, Field(...)], V]``)."""
        self._only(s, "additionalProperties", "patternProperties", "propertyNames")
        key: Schema = {"type": "string"}
        patterns = s.get("patternProperties")
        if patterns is not None:
            if not isinstance(patterns, dict) or len(patterns) != 1 or "additionalProperties" in s:
                raise Unsupported("patternProperties beside other properties")
            ((key["pattern"], values),) = patterns.items()
        else:
            values = s.get("additionalProperties", True)
        if values is False:
            raise Unsupported("an object that takes no keys")
        names = s.get("propertyNames")
        if names is not None:
            if not isinstance(names, dict) or ("$ref" in names and len(key) > 1):
                raise Unsupported("propertyNames beside a key pattern")
            key = names if "$ref" in names else {**key, **names}
        return f"dict[{self.type(key, flavor)}, {self.type(values, flavor)}]"


def _top_level(union: str) -> list[str]:
    """The members of a written union (``a | list[b | c]`` -> ``a``, ``list[b | c]``); string
    literals in it (``Literal["]|"]``) are skipped."""
    parts, depth, start, quote, i = [], 0, 0, "", 0
    while i < len(union):
        ch = union[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(union[start:i].strip())
            start = i + 1
        i += 1
    return [*parts, union[start:].strip()]


def is_decimal(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get(DECIMAL_MARK[0]) == DECIMAL_MARK[1]


def kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v if isinstance(v, Raw) else py_literal(v)}" for k, v in kwargs.items())


class Raw(str):
    """A keyword argument value that is code already (``MISSING``), not data."""

    __slots__ = ()

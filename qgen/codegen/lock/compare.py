"""Compare two JSON Schemas qgen generated for one queue side: the changes between them.

The schemas are the ones ``qgen.codegen.scan.schema`` writes (pydantic's validation-mode JSON
Schema 2020-12). ``$ref``s are followed into each side's own ``$defs``; a pair of definitions
already being compared further up is not compared again, so recursive models end. Unions
(``anyOf`` / ``oneOf``) are compared member by member: members are paired by definition name,
then by kind (the same JSON type), and a member left without a partner is a value set that
appeared or went. Every rule is in docs/schema-lock.md.
"""

from __future__ import annotations

from typing import Any

from qgen.codegen.lock import keywords, objects
from qgen.codegen.lock.changes import (
    BOTH,
    NARROWER,
    NULL,
    TYPE,
    UNKNOWN,
    VALUES,
    WIDER,
    At,
    Change,
    Schema,
    as_schema,
    show_types,
    show_values,
)

_REF = "#/$defs/"
# Keywords that describe and never reject a value (so do ``x-...`` extensions). ``default`` is
# read by the object rules.
ANNOTATIONS = frozenset(
    {
        "title", "description", "examples", "deprecated", "readOnly", "writeOnly", "$comment",
        "default", "discriminator", "$schema", "$defs",
    }
)  # fmt: skip
_UNIONS = ("anyOf", "oneOf")
_HANDLED = (
    ANNOTATIONS
    | keywords.KEYWORDS
    | objects.KEYWORDS
    | {"type", "enum", "const", "items", "prefixItems", *_UNIONS}
)
_NUMERIC = frozenset({"integer", "number"})
_MAX_REF_CHAIN = 32


class Differ:
    """The changes from ``old`` to ``new`` (root schemas, each with its own ``$defs``)."""

    def __init__(self, old: Schema, new: Schema) -> None:
        self.old_root = old
        self.new_root = new
        self.old_defs: dict[str, Schema] = dict(old.get("$defs") or {})
        self.new_defs: dict[str, Schema] = dict(new.get("$defs") or {})
        self.changes: list[Change] = []
        self._active: set[tuple[str | None, str | None]] = set()

    def run(self) -> list[Change]:
        self.compare(_without_defs(self.old_root), _without_defs(self.new_root), At())
        return self.changes

    def add(
        self, at: At, code: str, text: str, verdict: tuple[bool, bool], *, lifecycle: bool = False
    ) -> None:
        self.changes.append(Change(code, text, verdict[0], verdict[1], at, lifecycle))

    def probe(self, old: Any, new: Any) -> list[Change]:
        """The changes between two parts of these schemas, without recording them."""
        other = Differ(self.old_root, self.new_root)
        other._active = set(self._active)
        other.compare(as_schema(old), as_schema(new), At())
        return other.changes

    # -- entry -----------------------------------------------------------------------------
    def compare(self, old_ref: Schema, new_ref: Schema, at: At) -> None:
        old_name, old = self.resolve(old_ref, self.old_defs)
        new_name, new = self.resolve(new_ref, self.new_defs)
        pair = (old_name, new_name)
        if old_name is not None or new_name is not None:
            if pair in self._active:
                return  # a recursive definition: compared further up
            self._active.add(pair)
        try:
            old_members, new_members = branches(old), branches(new)
            if len(old_members) == 1 and len(new_members) == 1:
                self.single(old_members[0], new_members[0], _inside(at, new_name))
                return
            # A side that is not a union takes part as itself, $ref included, so that members
            # pair up by definition name.
            old_members = old_members if len(old_members) > 1 else [old_ref]
            if len(new_members) > 1:  # the union is written in the new definition
                self.union(old_members, new_members, _inside(at, new_name))
            else:  # a union became one type: the change is where that type is used
                self.union(old_members, [new_ref], at)
        finally:
            self._active.discard(pair)

    def resolve(self, schema: Schema, defs: dict[str, Schema]) -> tuple[str | None, Schema]:
        """(definition name, schema) with ``$ref`` followed; keywords beside a ``$ref`` (a
        default, a description) are kept on top of the definition."""
        name: str | None = None
        for _ in range(_MAX_REF_CHAIN):
            ref = schema.get("$ref")
            if not isinstance(ref, str) or not ref.startswith(_REF):
                break
            name = ref[len(_REF) :]
            beside = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**as_schema(defs.get(name, {})), **beside}
        return name, schema

    # -- unions ----------------------------------------------------------------------------
    def union(self, old: list[Schema], new: list[Schema], at: At) -> None:
        pairs, gone, came = self.pair(old, new)
        for o, n in pairs:
            self.compare(o, n, at)
        any_new = any(is_any(self.resolve(n, self.new_defs)[1]) for n in new)
        any_old = any(is_any(self.resolve(o, self.old_defs)[1]) for o in old)
        for o in gone:
            if not any_new:
                code = NULL if self._kind(o, self.old_defs) == "null" else TYPE
                self.add(at, code, f"no longer accepts {self.label(o, self.old_defs)}", NARROWER)
        for n in came:
            if not any_old:
                code = NULL if self._kind(n, self.new_defs) == "null" else TYPE
                self.add(at, code, f"now accepts {self.label(n, self.new_defs)}", WIDER)

    def pair(
        self, old: list[Schema], new: list[Schema]
    ) -> tuple[list[tuple[Schema, Schema]], list[Schema], list[Schema]]:
        """Members paired by definition name, plain members by exact type, then by kind
        (integer with number); one definition left on each side is taken as renamed."""
        free = list(range(len(new)))
        pairs: list[tuple[Schema, Schema]] = []
        gone: list[Schema] = []
        keys = (self._name_key, self._type_key, self._kind_key)
        for o in old:
            match = None
            for key in keys:
                want = key(o, self.old_defs)
                match = next((i for i in free if key(new[i], self.new_defs) == want), None)
                if want is not None and match is not None:
                    break
                match = None
            if match is None:
                gone.append(o)
            else:
                free.remove(match)
                pairs.append((o, new[match]))
        came = [new[i] for i in free]
        old_refs = [o for o in gone if self._name_key(o, self.old_defs)]
        new_refs = [n for n in came if self._name_key(n, self.new_defs)]
        if len(old_refs) == 1 and len(new_refs) == 1:  # one definition renamed
            pairs.append((old_refs[0], new_refs[0]))
            gone.remove(old_refs[0])
            came.remove(new_refs[0])
        return pairs, gone, came

    def _name_key(self, schema: Schema, defs: dict[str, Schema]) -> str | None:
        return self.resolve(schema, defs)[0]

    def _type_key(self, schema: Schema, defs: dict[str, Schema]) -> str | None:
        resolved = self.resolve(schema, defs)
        types = types_of(resolved[1])
        return None if resolved[0] is not None or types is None else show_types(types)

    def _kind_key(self, schema: Schema, defs: dict[str, Schema]) -> str | None:
        return None if self._name_key(schema, defs) is not None else self._kind(schema, defs)

    def _kind(self, schema: Schema, defs: dict[str, Schema]) -> str | None:
        types = types_of(self.resolve(schema, defs)[1])
        if types is None:
            return "any"
        return show_types(frozenset("number" if t in _NUMERIC else t for t in types))

    def label(self, schema: Schema, defs: dict[str, Schema]) -> str:
        name, resolved = self.resolve(schema, defs)
        if name is not None:
            return name
        values = values_of(resolved)
        return show_values(values) if values is not None else show_types(types_of(resolved))

    # -- one schema against one ------------------------------------------------------------
    def single(self, old: Schema, new: Schema, at: At) -> None:
        if not self.types(old, new, at):
            return
        if values_of(old) is not None or values_of(new) is not None:
            self.values(old, new, at)
            return
        integers = types_of(old) == types_of(new) == frozenset({"integer"})
        keywords.compare(self, old, new, at, integers=integers)
        self.arrays(old, new, at)
        if any(k in old or k in new for k in objects.KEYWORDS):
            objects.compare(self, old, new, at)
        for key in sorted((old.keys() | new.keys()) - _HANDLED):
            if old.get(key) != new.get(key) and not key.startswith("x-"):
                self.add(
                    at,
                    UNKNOWN,
                    f"keyword {key!r} changed; qgen cannot tell whether that is compatible",
                    BOTH,
                )

    def types(self, old: Schema, new: Schema, at: At) -> bool:
        """Record a type change; False when nothing else is worth comparing."""
        old_t, new_t = types_of(old), types_of(new)
        if old_t == new_t:
            return True
        if old_t is None or new_t is None:
            if old_t is None and is_any(old):
                self.add(at, TYPE, f"type narrowed from any value to {show_types(new_t)}", NARROWER)
                return False
            if new_t is None and is_any(new):
                self.add(at, TYPE, f"type widened from {show_types(old_t)} to any value", WIDER)
                return False
            return True  # a type-less schema with other keywords: compared keyword by keyword
        old_in, new_in = _within(old_t, new_t), _within(new_t, old_t)
        overlap = any(a == b or {a, b} == _NUMERIC for a in old_t for b in new_t)
        shown = f"from {show_types(old_t)} to {show_types(new_t)}"
        if not old_in and not new_in:
            self.add(at, TYPE, f"type changed {shown}", BOTH)
            return overlap
        if new_in:
            self.add(at, TYPE, f"type narrowed {shown}", NARROWER)
        else:
            self.add(at, TYPE, f"type widened {shown}", WIDER)
        return True

    def values(self, old: Schema, new: Schema, at: At) -> None:
        """enum / const (Enum classes and Literal)."""
        old_v, new_v = values_of(old), values_of(new)
        if old_v is not None and new_v is not None:
            removed = [v for v in old_v if not _contains(new_v, v)]
            added = [v for v in new_v if not _contains(old_v, v)]
            if removed:
                self.add(at, VALUES, f"{show_values(removed)} removed", NARROWER)
            if added:
                self.add(at, VALUES, f"{show_values(added)} added", WIDER)
            return
        if old_v is None and new_v is not None:
            self.add(at, VALUES, f"restricted to {show_values(new_v)}", NARROWER)
            refused = [v for v in new_v if not self.accepts(old, v, self.old_root)]
            if refused:
                self.add(at, VALUES, f"{show_values(refused)} not valid in the old schema", WIDER)
        elif old_v is not None:
            refused = [v for v in old_v if not self.accepts(new, v, self.new_root)]
            if refused:
                self.add(at, VALUES, f"{show_values(refused)} no longer accepted", NARROWER)
            self.add(at, VALUES, f"no longer restricted to {show_values(old_v)}", WIDER)

    def accepts(self, schema: Schema, value: Any, root: Schema) -> bool:
        from jsonschema import Draft202012Validator

        whole = {**schema, "$defs": root.get("$defs") or {}}
        return bool(Draft202012Validator(whole).is_valid(value))

    def arrays(self, old: Schema, new: Schema, at: At) -> None:
        if "items" in old or "items" in new:
            self.compare(
                as_schema(old.get("items", True)), as_schema(new.get("items", True)), at.part("[]")
            )
        old_p, new_p = old.get("prefixItems") or [], new.get("prefixItems") or []
        for i in range(min(len(old_p), len(new_p))):
            self.compare(as_schema(old_p[i]), as_schema(new_p[i]), at.part(f"[{i}]"))


def _inside(at: At, definition: str | None) -> At:
    return at if definition is None else at.into(definition)


def branches(schema: Schema) -> list[Schema]:
    """The members of an ``anyOf`` / ``oneOf`` (keywords beside it applied to each), or the
    schema itself."""
    for key in _UNIONS:
        members = schema.get(key)
        if isinstance(members, list) and members:
            beside = {
                k: v
                for k, v in schema.items()
                if k not in _UNIONS and k not in ANNOTATIONS and k != "type"
            }
            out: list[Schema] = []
            for m in members:
                out.extend(branches({**as_schema(m), **beside}))
            return out
    return [schema]


def types_of(schema: Schema) -> frozenset[str] | None:
    """The JSON types a schema allows; None when it does not restrict the type."""
    t = schema.get("type")
    if isinstance(t, str):
        return frozenset({t})
    if isinstance(t, list):
        return frozenset(str(x) for x in t)
    values = values_of(schema)
    if values is not None:
        return frozenset(_json_type(v) for v in values)
    if "properties" in schema or "required" in schema:
        return frozenset({"object"})
    return None


def values_of(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def is_any(schema: Schema) -> bool:
    """True when the schema accepts every value."""
    return all(k in ANNOTATIONS or k.startswith("x-") for k in schema)


def _without_defs(schema: Schema) -> Schema:
    return {k: v for k, v in schema.items() if k != "$defs"}


def _within(inner: frozenset[str], outer: frozenset[str]) -> bool:
    return all(t in outer or (t == "integer" and "number" in outer) for t in inner)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _contains(values: list[Any], value: Any) -> bool:
    """JSON equality: ``1`` and ``true`` differ, ``1`` and ``1.0`` do not."""
    return any(isinstance(v, bool) == isinstance(value, bool) and v == value for v in values)

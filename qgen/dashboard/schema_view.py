"""A job's data or result laid out against its queue's JSON Schema, for the job page: every
field with the title and description the schema gives it, nested objects and lists as nested
blocks. The template renders the tree with autoescaping; nothing here builds HTML."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 40  # deeper values are shown as JSON text


@dataclass(frozen=True, slots=True)
class Node:
    kind: str  # "object", "array", "text" (a scalar), "json" (shown as JSON text)
    text: str = ""
    type_name: str = ""  # the JSON type shown beside a scalar: string, integer, ...
    fields: list[FieldNode] = field(default_factory=list)
    items: list[Node] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FieldNode:
    name: str
    title: str
    description: str
    node: Node
    in_schema: bool = True  # False: a key the schema does not declare


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


def _resolve(schema: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow ``$ref`` (``#/$defs/X`` or ``#``), keeping the referrer's title/description."""
    seen = 0
    current: Any = schema if isinstance(schema, Mapping) else {}
    extra: dict[str, Any] = {}
    while isinstance(current.get("$ref"), str) and seen < 32:
        for key in ("title", "description"):
            if key in current and key not in extra:
                extra[key] = current[key]
        target: Any = root
        for part in current["$ref"].removeprefix("#").split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        current = target if isinstance(target, Mapping) else {}
        seen += 1
    return {**current, **extra} if extra else current


def _type_matches(schema: Mapping[str, Any], kind: str) -> bool:
    declared = schema.get("type")
    types = declared if isinstance(declared, list) else [declared] if declared else []
    if kind == "integer" and "number" in types:
        return True
    if not types:
        if "properties" in schema or "additionalProperties" in schema:
            return kind == "object"
        if "items" in schema or "prefixItems" in schema:
            return kind == "array"
        if "const" in schema:
            return _json_type(schema["const"]) == kind
        return False
    return kind in types


def _branch(schema: Mapping[str, Any], value: Any, root: Mapping[str, Any]) -> Mapping[str, Any]:
    """For anyOf/oneOf: the branch that fits the value (by discriminator, then JSON type)."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(branches, list):
        return schema
    resolved = [_resolve(b, root) for b in branches]
    disc = schema.get("discriminator")
    if isinstance(disc, Mapping) and isinstance(value, dict):
        tag = value.get(disc.get("propertyName"))
        target = (disc.get("mapping") or {}).get(tag) if isinstance(tag, str) else None
        if isinstance(target, str):
            return _resolve({"$ref": target}, root)
    kind = _json_type(value)
    for candidate in resolved:
        if _type_matches(candidate, kind):
            outer = {k: schema[k] for k in ("title", "description") if k in schema}
            return {**candidate, **outer}
    return schema


def _scalar(value: Any) -> Node:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return Node("text", text=text, type_name=_json_type(value))


def view(value: Any, schema: Any, root: Mapping[str, Any] | None = None, depth: int = 0) -> Node:
    """The display tree of ``value`` read with ``schema`` (``root`` holds ``$defs``)."""
    root = root if root is not None else (schema if isinstance(schema, Mapping) else {})
    if depth > MAX_DEPTH:
        return Node("json", text=json.dumps(value, ensure_ascii=False, indent=2))
    resolved = _branch(_resolve(schema, root), value, root)
    if isinstance(value, dict):
        return _object(value, resolved, root, depth)
    if isinstance(value, list):
        prefix = resolved.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        rest = resolved.get("items")
        items = [
            view(item, prefix[i] if i < len(prefix) else rest, root, depth + 1)
            for i, item in enumerate(value)
        ]
        return Node("array", items=items)
    return _scalar(value)


def _object(value: dict[str, Any], schema: Mapping[str, Any], root: Any, depth: int) -> Node:
    props = schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    extra_schema = schema.get("additionalProperties")
    # Required fields in declaration order (the schema's "required" keeps it; its
    # "properties" are sorted, and PostgreSQL's jsonb reorders keys), then the others.
    required = schema.get("required")
    first = [k for k in required if k in value] if isinstance(required, list) else []
    ordered = first + [k for k in props if k in value and k not in first]
    ordered += [k for k in value if k not in props and k not in first]
    fields = []
    for key in ordered:
        declared = key in props
        sub = props[key] if declared else extra_schema if isinstance(extra_schema, Mapping) else {}
        shown = _resolve(sub, root)
        fields.append(
            FieldNode(
                name=key,
                title=str(shown.get("title") or key) if declared else key,
                description=str(shown.get("description") or ""),
                node=view(value[key], sub, root, depth + 1),
                in_schema=declared or isinstance(extra_schema, Mapping),
            )
        )
    return Node("object", fields=fields)

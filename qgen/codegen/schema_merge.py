"""One ``$defs`` namespace for every queue's schemas, named as the user named the types.

- every named definition (a model, TypedDict, dataclass, enum, RootModel or ``TypeAliasType``)
  becomes one definition under the user's own name (its title, else pydantic's key); the same
  type used by several queues is one definition;
- two different definitions with the same name: the first (in queue-name order) keeps it, the
  next gets pydantic's module-qualified name (``kinds__geo__Address`` -> ``KindsGeoAddress``) or
  ``Name2``, ``Name3``...;
- each queue gets aliases ``<Stem>Input`` / ``<Stem>Output`` (``publish-article`` ->
  ``PublishArticleInput``); a queue whose input is not a named type (``list[int]``) gets a
  definition under that alias name instead;
- titles pydantic makes up (field ``order_id`` -> "Order Id", a class's own name) are dropped, so
  the models carry only what the user wrote; the schema files keep them all.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qgen.codegen.ir import QueueSpec

REF_PREFIX = "#/$defs/"
# Names the generated models module binds itself: a definition may not take them.
RESERVED = frozenset(
    {
        "Annotated",
        "Any",
        "BaseModel",
        "ConfigDict",
        "Field",
        "Literal",
        "MISSING",
        "NotRequired",
        "TypeAliasType",
        "TypedDict",
        "annotations",
        "datetime",
        "decimal",
        "ipaddress",
        "uuid",
    }
)
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class QueueModelNames:
    input: str  # the per-queue alias (or definition) of the input type
    output: str | None  # None when the queue's function returns nothing
    input_def: str  # the definition the input alias points at (== input when anonymous)
    output_def: str | None


@dataclass(frozen=True, slots=True)
class CombinedSchema:
    defs: dict[str, Any]  # name -> schema (refs rewritten to the names), in first-seen order
    names: dict[str, QueueModelNames]  # queue name -> its aliases and definitions


def pascal(text: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Model"
    return "M" + name if name[0].isdigit() else name


def _usable(name: str) -> bool:
    return (
        _NAME_RE.fullmatch(name) is not None
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and name not in RESERVED
    )


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                target = value[len(REF_PREFIX) :]
                out[key] = REF_PREFIX + mapping.get(target, target)
            elif key == "discriminator" and isinstance(value, dict) and "mapping" in value:
                out[key] = {**value, "mapping": _rewrite_mapping(value["mapping"], mapping)}
            else:
                out[key] = _rewrite(value, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite(v, mapping) for v in node]
    return node


def _rewrite_mapping(values: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tag, ref in values.items():
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            target = ref[len(REF_PREFIX) :]
            ref = REF_PREFIX + mapping.get(target, target)
        out[tag] = ref
    return out


def refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                found.add(value[len(REF_PREFIX) :])
            else:
                refs(value, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def _default_title(key: str) -> str:
    return key.replace("_", " ").title()  # what pydantic writes when no title was given


def strip_default_titles(node: Any, *, top: bool = False) -> Any:
    """Drop the titles pydantic makes up (field "order_id" -> "Order Id"; a definition's own
    title, which is its name here)."""
    if isinstance(node, list):
        return [strip_default_titles(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            props = {}
            for name, prop in value.items():
                prop = strip_default_titles(prop)
                if isinstance(prop, dict) and prop.get("title") == _default_title(name):
                    prop = {k: v for k, v in prop.items() if k != "title"}
                props[name] = prop
            out[key] = props
        elif key == "title" and top:
            continue
        else:
            out[key] = strip_default_titles(value)
    return out


def queue_stems(queues: Sequence[QueueSpec]) -> dict[str, str]:
    """Queue name -> a unique PascalCase stem for its aliases."""
    taken: set[str] = set()
    stems: dict[str, str] = {}
    for q in queues:
        base = pascal(q.accessor)
        n = 1
        while (stem := base + (str(n) if n > 1 else "")) in taken:
            n += 1
        taken.add(stem)
        stems[q.name] = stem
    return stems


def _preferred(key: str, schema: Any) -> list[str]:
    """Names a definition may take, best first: the user's (title, else pydantic's key), then
    pydantic's module-qualified key."""
    title = schema.get("title") if isinstance(schema, dict) else None
    if key.startswith("\0"):  # a root schema: only its title names it
        return [title] if isinstance(title, str) and _usable(title) else []
    short = key.split("__")[-1]
    options = [title if isinstance(title, str) else short, short, pascal(key)]
    return list(dict.fromkeys(n for n in options if _usable(n)))


def combine(queues: Sequence[QueueSpec]) -> CombinedSchema:
    stems = queue_stems(queues)
    suffixes = ("Input", "Output", "InputDict", "OutputDict", "Data")
    reserved = {f"{stem}{suffix}" for stem in stems.values() for suffix in suffixes}
    defs: dict[str, Any] = {}
    names: dict[str, QueueModelNames] = {}
    for q in queues:
        stem = stems[q.name]
        sides = [(q.function.input_schema, f"{stem}Input")]
        if q.function.output_schema is not None:
            sides.append((q.function.output_schema, f"{stem}Output"))
        placed = [_place_side(schema, alias, defs, reserved) for schema, alias in sides]
        out_alias, out_def = (sides[1][1], placed[1]) if len(placed) > 1 else (None, None)
        names[q.name] = QueueModelNames(sides[0][1], out_alias, placed[0], out_def)
    return CombinedSchema(defs, names)


def _place_side(
    schema: dict[str, Any], alias: str, defs: dict[str, Any], reserved: set[str]
) -> str:
    """Merge one root schema into ``defs``; returns the definition its queue alias names."""
    local = dict(schema)  # only this level changes: what is kept is rebuilt, never mutated
    local_defs: dict[str, Any] = dict(local.pop("$defs", {}) or {})
    local.pop("$schema", None)
    ref = local.get("$ref")
    fixed: dict[str, str] = {}
    if set(local) == {"$ref"} and isinstance(ref, str) and ref.startswith(REF_PREFIX):
        root_key = ref[len(REF_PREFIX) :]
    else:
        root_key = "\0root"
        local_defs[root_key] = local
        title = local.get("title")
        if not (isinstance(title, str) and _usable(title)):
            fixed[root_key] = alias  # not a named type: defined under the queue's alias
    mapping = _place(local_defs, fixed, defs, reserved)
    for key, content in local_defs.items():
        defs.setdefault(mapping[key], _rewrite(strip_default_titles(content, top=True), mapping))
    return mapping[root_key]


def _content(schema: Any, mapping: dict[str, str]) -> Any:
    return _rewrite(strip_default_titles(schema, top=True), mapping)


def _place(
    local_defs: dict[str, Any], fixed: dict[str, str], defs: dict[str, Any], reserved: set[str]
) -> dict[str, str]:
    """Give every local definition a global name: identical content shares a name, different
    content under a taken name moves to the next preferred or free name."""
    # Start from each definition's preferred name, the first in key order winning a tie.
    mapping = dict(fixed)
    for key in sorted(k for k in local_defs if k not in fixed):
        options = _preferred(key, local_defs[key]) or ["Model"]
        mapping[key] = next((n for n in options if n not in mapping.values()), f"\0{key}")
    for _ in range(len(local_defs) + 2):
        changed = False
        for key in sorted(k for k in local_defs if k not in fixed):
            others = {v for k, v in mapping.items() if k != key}
            options = _preferred(key, local_defs[key]) or ["Model"]
            candidates = itertools.chain(options, (f"{options[0]}{n}" for n in itertools.count(2)))
            name = next(
                n
                for n in candidates
                if n not in reserved
                and n not in others
                and (n not in defs or defs[n] == _content(local_defs[key], {**mapping, key: n}))
            )
            if name != mapping[key]:
                mapping[key], changed = name, True
        if not changed:
            break
    return mapping

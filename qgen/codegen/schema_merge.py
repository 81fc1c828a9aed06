"""One ``$defs`` namespace for every queue's schemas, before datamodel-code-generator runs.

- each queue's input and output gets a stable class name, ``<Accessor>Input`` / ``<Accessor>Output``
  (``publish-article`` -> ``PublishArticleInput``); a recursive root (``{"$ref": ...}``) is renamed
  to it so the recursion points at the stable class;
- every other definition gets a clean PascalCase name (datamodel-code-generator keeps such names
  verbatim); two queues defining the same name with different content get ``Name2``, ``Name3``...
  (first come in queue-name order keeps ``Name``), identical definitions are shared;
- a user's model title becomes an alias of the stable name where it is unambiguous (``sugar``).
"""

from __future__ import annotations

import copy
import keyword
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qgen.codegen.ir import QueueSpec

ROOT_NAME = "QgenSchemaRoot"  # the generator's name for the (empty) schema root; dropped
REF_PREFIX = "#/$defs/"
# Names datamodel-code-generator imports into the module (or renames to avoid): a definition
# with one of these names gets a "Model" suffix from us, before the generator sees it.
_RESERVED_WORDS = """Any Annotated Literal Optional Union Dict List Set Tuple Type Field BaseModel
    RootModel ConfigDict AwareDatetime NaiveDatetime FutureDate PastDate AnyUrl EmailStr UUID
    Decimal Enum IntEnum StrEnum TypeAliasType TypeAlias Model Json SecretStr constr conint
    confloat StrictStr StrictInt StrictBool StrictFloat Base64Str ByteSize"""
_RESERVED = frozenset(_RESERVED_WORDS.split())
_PASCAL_RE = re.compile(r"[A-Z][A-Za-z0-9]*")


@dataclass(frozen=True, slots=True)
class QueueModelNames:
    input: str
    output: str | None


@dataclass(frozen=True, slots=True)
class CombinedSchema:
    defs: dict[str, Any]  # clean name -> schema (refs rewritten)
    names: dict[str, QueueModelNames]  # queue name -> stable class names
    # per queue: the defs it needs (stable roots first), for grouping
    closure: dict[str, tuple[str, ...]]
    sugar: dict[str, str]  # friendly alias (user's model title) -> stable name


def pascal(text: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or "Model"
    if name[0].isdigit():
        name = "M" + name
    return name


def clean_def_name(name: str) -> str:
    out = pascal(name)
    if out in _RESERVED or keyword.iskeyword(out) or out == ROOT_NAME:
        out += "Model"
    return out


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                target = value[len(REF_PREFIX) :]
                out[key] = REF_PREFIX + mapping.get(target, target)
            else:
                out[key] = _rewrite(value, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite(v, mapping) for v in node]
    return node


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
    """Drop the titles pydantic makes up (field "order_id" -> "Order Id"; a model's class name),
    so the generated models carry only what the user wrote. The schema files keep them all."""
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
        elif key == "title" and top and isinstance(value, str) and value.isidentifier():
            continue
        else:
            out[key] = strip_default_titles(value)
    return out


def stable_names(queues: Sequence[QueueSpec]) -> dict[str, QueueModelNames]:
    taken: set[str] = set()
    names: dict[str, QueueModelNames] = {}
    for q in queues:
        base = pascal(q.accessor)
        n = 1
        while (stem := base + (str(n) if n > 1 else "")) + "Input" in taken:
            n += 1
        inp, out = stem + "Input", stem + "Output"
        taken.update((inp, out))
        has_out = q.function.output_schema is not None
        names[q.name] = QueueModelNames(inp, out if has_out else None)
    return names


def combine(queues: Sequence[QueueSpec]) -> CombinedSchema:
    names = stable_names(queues)
    reserved = {n for qn in names.values() for n in (qn.input, qn.output) if n}
    defs: dict[str, Any] = {}
    closure: dict[str, tuple[str, ...]] = {}
    titles: dict[str, list[str]] = {}
    for q in queues:
        needed: list[str] = []
        sides = [(q.function.input_schema, names[q.name].input)]
        out_name = names[q.name].output
        if q.function.output_schema is not None and out_name:
            sides.append((q.function.output_schema, out_name))
        for schema, stable in sides:
            local = copy.deepcopy(schema)
            local_defs: dict[str, Any] = dict(local.pop("$defs", {}) or {})
            local.pop("$schema", None)
            fixed: dict[str, str] = {}
            ref = local.get("$ref")
            if set(local) == {"$ref"} and isinstance(ref, str) and ref.startswith(REF_PREFIX):
                root_key = ref[len(REF_PREFIX) :]
                title = local_defs.get(root_key, {}).get("title")
                fixed[root_key] = stable
            else:
                root_key = "\0root"
                local_defs[root_key] = local
                title = local.get("title")
                fixed[root_key] = stable
            if isinstance(title, str) and _PASCAL_RE.fullmatch(title):
                titles.setdefault(title, []).append(stable)
            local_defs = {k: strip_default_titles(v, top=True) for k, v in local_defs.items()}
            mapping = _place(local_defs, fixed, defs, reserved)
            for key, content in local_defs.items():
                defs.setdefault(mapping[key], _rewrite(content, mapping))
            needed.append(stable)
            needed.extend(sorted(mapping[k] for k in local_defs if k not in fixed))
        closure[q.name] = tuple(dict.fromkeys(needed))
    sugar = {
        t: stables[0]
        for t, stables in sorted(titles.items())
        if len(stables) == 1 and t not in defs and t not in _RESERVED
    }
    return CombinedSchema(defs, names, closure, sugar)


def _place(
    local_defs: dict[str, Any], fixed: dict[str, str], defs: dict[str, Any], reserved: set[str]
) -> dict[str, str]:
    """Give every local definition a global name: identical content shares a name, different
    content under a taken name moves to the next free ``NameN``."""
    mapping = {k: fixed.get(k) or clean_def_name(k) for k in local_defs}
    for _ in range(len(local_defs) + 2):
        changed = False
        for key in sorted(k for k in local_defs if k not in fixed):
            content = _rewrite(local_defs[key], mapping)
            base = clean_def_name(key)
            name, n = mapping[key], 1
            others = {v for k, v in mapping.items() if k != key}
            while name in reserved or name in others or (name in defs and defs[name] != content):
                n += 1
                name = f"{base}{n}"
            if name != mapping[key]:
                mapping[key], changed = name, True
        if not changed:
            break
    return mapping

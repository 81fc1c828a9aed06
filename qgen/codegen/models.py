"""``models.py`` of the output: pydantic v2 models made by datamodel-code-generator, in-process.

All queues' schemas are merged into one ``$defs`` namespace first:

- each queue's input and output gets a stable class name, ``<Accessor>Input`` / ``<Accessor>Output``
  (``publish-article`` -> ``PublishArticleInput``); a recursive root (``{"$ref": ...}``) is renamed
  to it so the recursion points at the stable class;
- every other definition gets a clean PascalCase name; two queues defining the same name with
  different content get ``Name2``, ``Name3``... (first come in queue-name order keeps ``Name``),
  identical definitions are shared.

The queues are then generated in groups (datamodel-code-generator's cost grows with the schema and
its formatters are slow, so it runs with ``formatters=[]``; the one ruff run of the build formats
the result). Each group's output is cached by the hash of its schema, so a project where one queue
changed regenerates one group. Group outputs are merged by top-level name; if two groups disagree
on a name the whole schema is generated in one run instead.
"""

from __future__ import annotations

import ast
import copy
import functools
import hashlib
import json
import keyword
import multiprocessing
import os
import re
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgen.codegen.ir import QueueSpec

GROUP_SIZE = 100  # queues per datamodel-code-generator run
PARALLEL_MIN_DEFS = 400
_ROOT_NAME = "QgenSchemaRoot"
# Names datamodel-code-generator imports into the module (or renames to avoid): a definition
# with one of these names gets a "Model" suffix from us, before the generator sees it.
_RESERVED_WORDS = """Any Annotated Literal Optional Union Dict List Set Tuple Type Field BaseModel
    RootModel ConfigDict AwareDatetime NaiveDatetime FutureDate PastDate AnyUrl EmailStr UUID
    Decimal Enum IntEnum StrEnum TypeAliasType TypeAlias Model Json SecretStr constr conint
    confloat StrictStr StrictInt StrictBool StrictFloat Base64Str ByteSize"""
_RESERVED = frozenset(_RESERVED_WORDS.split())
_PASCAL_RE = re.compile(r"[A-Z][A-Za-z0-9]*")
_REF_PREFIX = "#/$defs/"


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
    if out in _RESERVED or keyword.iskeyword(out) or out == _ROOT_NAME:
        out += "Model"
    return out


def _rewrite(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                target = value[len(_REF_PREFIX) :]
                out[key] = _REF_PREFIX + mapping.get(target, target)
            else:
                out[key] = _rewrite(value, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite(v, mapping) for v in node]
    return node


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF_PREFIX):
                found.add(value[len(_REF_PREFIX) :])
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


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
            if set(local) == {"$ref"} and isinstance(ref, str) and ref.startswith(_REF_PREFIX):
                root_key = ref[len(_REF_PREFIX) :]
                title = local_defs.get(root_key, {}).get("title")
                fixed[root_key] = stable
            else:
                root_key = "\0root"
                local_defs[root_key] = local
                title = local.get("title")
                fixed[root_key] = stable
            if isinstance(title, str) and _PASCAL_RE.fullmatch(title):
                titles.setdefault(title, []).append(stable)
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


def _groups(combined: CombinedSchema) -> list[dict[str, Any]]:
    """Split into schemas of about GROUP_SIZE queues, each closed under $ref."""
    queues = sorted(combined.closure)
    out: list[dict[str, Any]] = []
    for start in range(0, len(queues), GROUP_SIZE):
        wanted: dict[str, None] = {}
        todo = [n for q in queues[start : start + GROUP_SIZE] for n in combined.closure[q]]
        while todo:
            name = todo.pop(0)
            if name in wanted:
                continue
            wanted[name] = None
            found: set[str] = set()
            _refs(combined.defs[name], found)
            todo.extend(sorted(found - set(wanted)))
        out.append({"$defs": {n: combined.defs[n] for n in sorted(wanted)}})
    return out


_DCG_OPTIONS: dict[str, Any] = {
    "disable_timestamp": True,
    "use_standard_collections": True,
    "use_union_operator": True,
    "use_type_alias": True,
    "use_schema_description": True,
    "use_field_description": False,  # descriptions stay in Field(description=...)
    "enum_field_as_literal": "all",
    "field_constraints": True,  # Field(min_length=...) rather than constr(): mypy-friendly
    "use_default_kwarg": True,  # Field(default=...): mypy's dataclass_transform needs the keyword
    "strict_nullable": True,  # a field with a default is not Optional unless the schema says so
    "use_unique_items_as_set": True,  # set[str] stays a set
    "class_name": _ROOT_NAME,
    "formatters": [],
}


def _run_dcg(schema: dict[str, Any]) -> str:
    from datamodel_code_generator import generate
    from datamodel_code_generator.enums import DataModelType, InputFileType
    from datamodel_code_generator.format import PythonVersion

    result = generate(
        json.dumps(schema, sort_keys=True),
        input_file_type=InputFileType.JsonSchema,
        output_model_type=DataModelType.PydanticV2BaseModel,
        target_python_version=PythonVersion.PY_311,
        **_DCG_OPTIONS,
    )
    if not isinstance(result, str):
        raise RuntimeError("datamodel-code-generator returned no code")
    return result


@functools.cache
def _dcg_version() -> str:
    from importlib.metadata import version

    return version("datamodel-code-generator")


def _cache_path(schema: dict[str, Any], cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    key = hashlib.sha256(
        json.dumps(
            [_dcg_version(), repr(sorted(_DCG_OPTIONS.items())), schema], sort_keys=True
        ).encode()
    ).hexdigest()
    return cache_dir / f"{key}.py.txt"


def _cache_get(schema: dict[str, Any], cache_dir: Path | None) -> str | None:
    path = _cache_path(schema, cache_dir)
    try:
        return None if path is None else path.read_text(encoding="utf-8")
    except OSError:
        return None


def _cache_put(schema: dict[str, Any], cache_dir: Path | None, code: str) -> None:
    path = _cache_path(schema, cache_dir)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(code, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs time


@dataclass
class _Parts:
    imports: dict[str, set[str]]
    body: dict[str, str]  # top-level name -> source, in first-seen order
    tail: list[str]  # Model.model_rebuild() calls


def _split(code: str, parts: _Parts) -> bool:
    """Merge one generated module into ``parts``; False when a name has two definitions."""
    tree = ast.parse(code)
    lines = code.splitlines()
    for stmt in tree.body:
        # Whole lines (top-level statements start at column 0); ast.get_source_segment would
        # re-split the module for every statement.
        first = (
            stmt.decorator_list[0].lineno
            if isinstance(stmt, ast.ClassDef) and stmt.decorator_list
            else stmt.lineno
        )
        src = "\n".join(lines[first - 1 : stmt.end_lineno])
        if isinstance(stmt, ast.ImportFrom) and stmt.module:
            parts.imports.setdefault(stmt.module, set()).update(a.name for a in stmt.names)
            continue
        if isinstance(stmt, ast.Import):
            parts.imports.setdefault("", set()).update(a.name for a in stmt.names)
            continue
        if isinstance(stmt, ast.Expr):
            if src not in parts.tail:
                parts.tail.append(src)
            continue
        if isinstance(stmt, ast.ClassDef):
            name = stmt.name
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
        else:
            raise RuntimeError(f"unexpected statement in generated models: {src[:80]!r}")
        if name == _ROOT_NAME:
            continue
        previous = parts.body.get(name)
        if previous is None:
            parts.body[name] = src
        elif previous != src:
            return False
    return True


def _generate_groups(
    groups: list[dict[str, Any]], cache_dir: Path | None, jobs: int | None
) -> list[str]:
    """datamodel-code-generator output per group: cached ones read, the rest generated, in a
    process pool when there is enough work to share (it costs about 2 ms per definition)."""
    results: list[str | None] = [_cache_get(g, cache_dir) for g in groups]
    todo = [i for i, r in enumerate(results) if r is None]
    workers = min(jobs or os.cpu_count() or 1, len(todo))
    work = sum(len(groups[i]["$defs"]) for i in todo)
    if workers > 1 and work >= PARALLEL_MIN_DEFS:
        # The first run pays for lazy imports and template compilation (about a second):
        # pay it once here, before forking, instead of once per worker.
        _run_dcg({"$defs": {"Warm": {"type": "object", "properties": {"a": {"type": "string"}}}}})
        ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            made = pool.map(_run_dcg, [groups[i] for i in todo])
            for i, text in zip(todo, made, strict=True):
                results[i] = text
    else:
        for i in todo:
            results[i] = _run_dcg(groups[i])
    for i in todo:
        done = results[i]
        assert done is not None
        _cache_put(groups[i], cache_dir, done)
    return [r for r in results if r is not None]


def render_models(
    combined: CombinedSchema, banner: str, cache_dir: Path | None = None, jobs: int | None = None
) -> str:
    """The text of ``models.py`` (unformatted; the build's ruff run formats it)."""
    parts = _Parts({}, {}, [])
    if combined.defs:
        codes = _generate_groups(_groups(combined), cache_dir, jobs)
        if not all(_split(code, parts) for code in codes):
            parts = _Parts({}, {}, [])
            whole = {"$defs": combined.defs}
            code = _cache_get(whole, cache_dir) or _run_dcg(whole)
            _cache_put(whole, cache_dir, code)
            if not _split(code, parts):
                raise RuntimeError("datamodel-code-generator produced a name twice")
    missing = [
        n
        for qn in combined.names.values()
        for n in (qn.input, qn.output)
        if n and n not in parts.body
    ]
    if missing:
        raise RuntimeError(f"generated models lack the classes {missing}")
    lines = [banner, "", "from __future__ import annotations", ""]
    parts.imports.pop("__future__", None)
    plain = sorted(parts.imports.pop("", set()))
    lines += [f"import {m}" for m in plain]
    lines += [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(parts.imports.items())]
    lines.append("")
    for src in parts.body.values():
        lines += ["", src, ""]
    if combined.sugar:
        lines += ["", "# Your models' own names, where they are unambiguous."]
        lines += [
            f"{alias} = {target}"
            for alias, target in sorted(combined.sugar.items())
            if alias not in parts.body
        ]
    if parts.tail:
        lines += ["", *parts.tail]
    return "\n".join(lines) + "\n"

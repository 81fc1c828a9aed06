"""``models.py`` of the output: pydantic v2 models made by datamodel-code-generator, in-process.

All queues' schemas are merged into one ``$defs`` namespace first (``schema_merge``).

The queues are then generated in groups (datamodel-code-generator's cost grows with the schema and
its formatters are slow, so it runs with ``formatters=[]``; the one ruff run of the build formats
the result). Each group's output is cached by the hash of its schema, so a project where one queue
changed regenerates one group. Group outputs are merged by top-level name; if two groups disagree
on a name the whole schema is generated in one run instead.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import multiprocessing
import os
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgen.codegen.schema_merge import (
    ROOT_NAME,
    CombinedSchema,
    QueueModelNames,
    combine,
    refs,
)

__all__ = ["GROUP_SIZE", "CombinedSchema", "QueueModelNames", "combine", "render_models"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
GROUP_SIZE = 100  # queues per datamodel-code-generator run
PARALLEL_MIN_DEFS = 400


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
            refs(combined.defs[name], found)
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
    "class_name": ROOT_NAME,
    "formatters": [],
}


def _run_dcg(schema: dict[str, Any]) -> str:
    from datamodel_code_generator import generate
    from datamodel_code_generator.enums import DataModelType, InputFileType
    from datamodel_code_generator.format import PythonVersion

    result = generate(
        json.dumps(schema),  # keeps field order: the models list fields as the user did
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
        json.dumps([_dcg_version(), repr(sorted(_DCG_OPTIONS.items())), schema]).encode()
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
    # Split where ``ast`` counts lines: str.splitlines() also splits on characters such as
    # U+2028 or a form feed inside docstrings, which shifted every later statement.
    lines = _LINE_BREAK.split(code)
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
        if name == ROOT_NAME:
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
    _prune_cache(cache_dir, {_cache_path(g, cache_dir) for g in groups})
    return [r for r in results if r is not None]


def _prune_cache(cache_dir: Path | None, keep: set[Path | None]) -> None:
    """Drop cached groups this build did not use, so the cache does not grow forever."""
    if cache_dir is None or not cache_dir.is_dir():
        return
    for path in cache_dir.glob("*.py.txt"):
        if path not in keep:
            path.unlink(missing_ok=True)


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

"""``models.py`` of the output: one pydantic model per user type, named as the user named it, a
TypedDict twin of each (the dict form a caller may write), and per-queue aliases
(``PaymentsInput = PaymentRequest``, ``PaymentsInputDict = PaymentRequestDict``).

qgen writes every shape its scanner emits itself (``modelgen``: plain string building, about a
hundredth of datamodel-code-generator's cost per definition). A definition holding a schema
keyword qgen does not know is left to datamodel-code-generator, in one in-process run over
those definitions (cached by schema hash); its twin is then a plain ``dict[str, Any]`` alias.

Module order: classes (sorted by name; their annotations are lazy), then type aliases in
dependency order (their values run at import; a value that refers ahead is quoted), then the
per-queue aliases, then ``model_rebuild()`` for models that refer ahead or to themselves.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qgen.codegen.modelgen import ModelWriter, Piece, is_object
from qgen.codegen.pytypes import Unsupported
from qgen.codegen.schema_merge import CombinedSchema, QueueModelNames, combine, refs

__all__ = ["CombinedSchema", "QueueModelNames", "QueueTypes", "combine", "render_models"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_HELPER_SOURCE = {
    "_schema_default": '''def _schema_default(value: Any) -> Any:
    """A default as the JSON Schema states it (its JSON form, e.g. a date as a string)."""
    return value''',
}


@dataclass(frozen=True, slots=True)
class QueueTypes:
    """Names in ``models`` the client refers to for one queue."""

    input: str  # "PaymentsInput"
    input_dict: str | None  # "PaymentsInputDict", None when the dict form is the same type
    output: str | None  # "PaymentsOutput", None when the queue returns nothing
    data: str  # what add() takes: "PaymentsData" (the model or its dict form), else the input


@dataclass(frozen=True, slots=True)
class ModelsModule:
    text: str
    queues: dict[str, QueueTypes]
    fallback: tuple[str, ...] = ()  # definitions datamodel-code-generator wrote


def queue_aliases(combined: CombinedSchema) -> set[str]:
    names = {n for q in combined.names.values() for n in (q.input, q.output) if n}
    return (
        names | {f"{n}Dict" for n in names} | {_data_name(q.input) for q in combined.names.values()}
    )


def _data_name(input_alias: str) -> str:
    return input_alias.removesuffix("Input") + "Data"


def render_models(
    combined: CombinedSchema, banner: str, cache_dir: Path | None = None
) -> ModelsModule:
    """The text of ``models.py`` (unformatted; the build's ruff run formats it)."""
    writer = ModelWriter(combined.defs, queue_aliases(combined), _input_closure(combined))
    classes: list[tuple[str, Piece]] = []
    aliases: dict[str, Piece] = {}
    fallback: list[str] = []
    for name, schema in sorted(combined.defs.items()):
        try:
            if is_object(schema):
                made = [(name, writer.model_class(name, schema))]
                if (
                    name in writer.twins
                ):  # both or neither: a failing twin leaves it to the fallback
                    made.append((writer.twins[name], writer.typed_dict(name, schema)))
                classes += made
            else:
                aliases.update(writer.aliases(name, schema))
        except Unsupported:
            fallback.append(name)
    uses: set[str] = set().union(*(p.uses for _, p in classes), *(p.uses for p in aliases.values()))
    lines: list[str] = []
    for _name, piece in classes:
        lines += ["", "", piece.source]
    imports: dict[str, set[str]] = {}
    if fallback:
        lines += _fallback(combined, writer, fallback, imports, aliases, cache_dir)
    defined = {name for name, _ in classes} | set(imports.get("", ()))
    for name in _alias_order(aliases):
        piece = aliases.pop(name)
        value = piece.source if piece.refs <= defined else repr(piece.source)
        lines += ["", "", f"{name} = TypeAliasType({name!r}, {value})"]
        defined.add(name)
    queue_types, per_queue = _queue_lines(combined, writer)
    lines += per_queue
    if any(t.data != t.input for t in queue_types.values()):
        uses.add("typing.TypeAlias")
    lines += _rebuilds(classes, writer)
    head = [banner, "", "from __future__ import annotations", "", *_imports(uses, imports)]
    helpers = [_HELPER_SOURCE[h] for h in sorted(_HELPER_SOURCE) if f"qgen:{h}" in uses]
    for helper in helpers:
        head += ["", "", helper]
    return ModelsModule("\n".join(head + lines) + "\n", queue_types, tuple(fallback))


def _input_closure(combined: CombinedSchema) -> set[str]:
    """The definitions some queue's input reaches."""
    todo = [names.input_def for names in combined.names.values()]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in combined.defs:
            continue
        seen.add(name)
        found: set[str] = set()
        refs(combined.defs[name], found)
        todo.extend(found)
    return seen


def _imports(uses: set[str], extra: dict[str, set[str]]) -> list[str]:
    modules = sorted(u for u in uses if "." not in u and ":" not in u)
    names: dict[str, set[str]] = {m: set(n) for m, n in extra.items() if m}
    for use in uses:
        if "." in use and ":" not in use:
            module, name = use.rsplit(".", 1)
            names.setdefault(module, set()).add(name)
    if any(u.startswith("qgen:") for u in uses):
        names.setdefault("typing", set()).add("Any")
    lines = [f"import {m}" for m in modules]
    lines += [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(names.items())]
    return lines


def _alias_order(aliases: dict[str, Piece]) -> list[str]:
    """Aliases after the aliases their values use (cycles: name order; assembly quotes)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, stack: set[str]) -> None:
        if name in seen or name in stack or name not in aliases:
            return
        stack.add(name)
        for dep in sorted(aliases[name].refs):
            visit(dep, stack)
        stack.discard(name)
        seen.add(name)
        order.append(name)

    for name in sorted(aliases):
        visit(name, set())
    return order


def _queue_lines(
    combined: CombinedSchema, writer: ModelWriter
) -> tuple[dict[str, QueueTypes], list[str]]:
    types: dict[str, QueueTypes] = {}
    lines: list[str] = []
    for queue, names in sorted(combined.names.items()):
        pairs = [(names.input, names.input_def)]
        if names.output and names.output_def:
            pairs.append((names.output, names.output_def))
        input_dict: str | None = None
        for index, (alias, target) in enumerate(pairs):
            twin = writer.twins.get(target)
            if alias != target:
                lines.append(f"{alias} = {target}")
                if twin is not None and index == 0:
                    lines.append(f"{alias}Dict = {twin}")
                    twin = f"{alias}Dict"
            if index == 0:
                input_dict = twin
        data = names.input
        if input_dict is not None:
            # A string: the client reads it in annotations only (no union evaluated at import).
            data = _data_name(names.input)
            lines.append(f"{data}: TypeAlias = {f'{names.input} | {input_dict}'!r}")
        types[queue] = QueueTypes(names.input, input_dict, names.output, data)
    if lines:
        lines = ["", "", "# Each queue's input and output types, by queue.", *lines]
    return types, lines


def _rebuilds(classes: list[tuple[str, Piece]], writer: ModelWriter) -> list[str]:
    """``model_rebuild()`` for models whose annotations refer to an alias or to a class defined
    at or after their own (pydantic resolves those names once the module is complete)."""
    position = {name: i for i, (name, _) in enumerate(classes)}
    twins = set(writer.twins.values())
    out = [
        f"{name}.model_rebuild()"
        for i, (name, piece) in enumerate(classes)
        if name not in twins
        and any(position.get(r, -1) >= i or r not in position for r in piece.refs)
    ]
    return ["", "", *out] if out else []


# ---- datamodel-code-generator, for the shapes qgen does not write ------------------------------

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
    "class_name": "QgenSchemaRoot",
    "formatters": [],
}


def _fallback(
    combined: CombinedSchema,
    writer: ModelWriter,
    names: list[str],
    imports: dict[str, set[str]],
    aliases: dict[str, Any],
    cache_dir: Path | None,
) -> list[str]:
    """Source for the definitions qgen does not write, from datamodel-code-generator."""
    wanted: dict[str, None] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted[name] = None
            found: set[str] = set()
            refs(combined.defs[name], found)
            todo.extend(sorted(found - set(wanted)))
    schema = {"$defs": {n: combined.defs[n] for n in sorted(wanted)}}
    code = _cache_get(schema, cache_dir)
    if code is None:
        code = _run_dcg(schema)
        _cache_put(schema, cache_dir, code)
    bodies = _split(code, imports)
    mine = set(combined.defs) - set(names)
    lines: list[str] = []
    for name, source in bodies.items():
        if name not in mine and name != "QgenSchemaRoot":
            lines += ["", "", source]
            imports.setdefault("", set()).add(name)  # defined from here on
    for name in names:
        if name not in bodies:
            raise RuntimeError(f"datamodel-code-generator did not define {name}")
        twin = writer.twins.get(name)
        if twin is not None and twin not in aliases:
            loose = Piece(
                "dict[str, Any]", set(), {"typing.Any", "typing_extensions.TypeAliasType"}
            )
            aliases[twin] = loose
    return lines


def _split(code: str, imports: dict[str, set[str]]) -> dict[str, str]:
    """Top-level name -> source of each definition in generated code; imports merged."""
    tree = ast.parse(code)
    # Split where ``ast`` counts lines: str.splitlines() also splits on characters such as
    # U+2028 or a form feed inside docstrings, which shifted every later statement.
    lines = _LINE_BREAK.split(code)
    bodies: dict[str, str] = {}
    for stmt in tree.body:
        first = (
            stmt.decorator_list[0].lineno
            if isinstance(stmt, ast.ClassDef) and stmt.decorator_list
            else stmt.lineno
        )
        src = "\n".join(lines[first - 1 : stmt.end_lineno])
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.module != "__future__":
            imports.setdefault(stmt.module, set()).update(a.name for a in stmt.names)
        elif isinstance(stmt, ast.ClassDef):
            bodies[stmt.name] = src
        elif isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            bodies[stmt.targets[0].id] = src
        elif isinstance(stmt, ast.Expr):  # Model.model_rebuild()
            bodies[f"\0{len(bodies)}"] = src
    return bodies


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
        for old in path.parent.glob("*.py.txt"):  # one fallback run per build: keep only it
            old.unlink(missing_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(code, encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written only costs time

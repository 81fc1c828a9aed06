"""IR -> the generated tree, in memory: ``{relative path: bytes}``.

Templates (``qgen/templates``) run with autoescape off, so user-derived text reaches generated
code only through filters that emit Python literals (``py``: ``repr`` of validated JSON data;
``doc``: a one-line string literal used as a docstring) or validated identifiers (``ident``,
``dotted``). All ``.py`` output is formatted by one pinned ``ruff format --isolated`` run, so a
user's ruff settings never change the bytes.

A queue whose function returns ``None`` has no ``<queue>.output.json``; its manifest entry has
``"output_schema": null`` and ``"output_type": "None"``, and its client handles are typed
``JobHandle[None]``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

import qgen
from qgen.codegen import jsontext, models
from qgen.codegen.client_view import client_view
from qgen.codegen.ir import ProjectSpec
from qgen.codegen.literals import (
    BANNER,
    RenderError,
    doc_literal,
    dotted,
    hexdigest,
    ident,
    py_literal,
)
from qgen.codegen.timings import TIMINGS as TIMINGS  # read by `qgen build --timings`
from qgen.codegen.timings import phase
from qgen.runtime.capabilities import BACKENDS
from qgen.runtime.manifest import MANIFEST_FORMAT
from qgen.runtime.names import is_valid_queue_name

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True, slots=True)
class RenderInput:
    project: ProjectSpec
    warnings: Mapping[str, Mapping[str, list[str]]]  # queue -> backend -> texts
    inputs_hash: str
    project_root: str  # relative path from the out dir to the pyproject folder, posix
    build_warnings: tuple[str, ...] = ()  # formatted warning diagnostics, replayed on warm builds
    extra: dict[str, Any] = field(default_factory=dict)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=False,  # we emit Python: every value passes a literal filter
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        py=py_literal, doc=doc_literal, ident=ident, dotted=dotted, hexdigest=hexdigest
    )
    return env


# ---- the tree --------------------------------------------------------------------------------


def _json(data: Any) -> str:
    return jsontext.dumps(data) + "\n"  # json.dumps(indent=2, sort_keys=True, ensure_ascii=False)


def _schema_file(schema: dict[str, Any]) -> str:
    return _json({"$schema": SCHEMA_DIALECT, **schema})


def _check(project: ProjectSpec) -> None:
    for q in project.queues:
        if not is_valid_queue_name(q.name):
            raise RenderError(f"invalid queue name {q.name!r}")
        ident(q.accessor)


def render_sources(
    inp: RenderInput, cache_dir: Path | None = None, jobs: int | None = None
) -> dict[str, str]:
    """Every generated Python file and py.typed, unformatted."""
    project = inp.project
    _check(project)
    env = _env()
    combined = models.combine(project.queues)
    files: dict[str, str] = {}
    files["__init__.py"] = env.get_template("package_init.py.jinja").render(
        banner=BANNER, inputs_hash=inp.inputs_hash, qgen_version=qgen.__version__
    )
    files["py.typed"] = ""
    models_banner = (
        f'{BANNER}\n"""Job data types of every queue, made from the JSON Schemas in '
        "``schemas/``: a pydantic\nmodel per type and its TypedDict twin (the dict form a "
        'caller may write)."""'
    )
    with phase("models"):
        module = models.render_models(
            combined, models_banner, None if cache_dir is None else cache_dir / "models"
        )
    files["models.py"] = module.text
    root_parts = [p for p in inp.project_root.split("/") if p and p != "."]
    view = client_view(BANNER, project.out_package, root_parts, project.queues, module.queues)
    files["client.py"] = env.get_template("client.py.jinja").render(v=view)
    worker = env.get_template("worker.py.jinja")
    for backend in BACKENDS:
        files[f"workers/{backend}.py"] = worker.render(
            banner=BANNER, backend=backend, module=f"{project.out_package}.workers.{backend}"
        )
    files["workers/sqs_lambda.py"] = env.get_template("sqs_lambda.py.jinja").render(
        banner=BANNER, module=f"{project.out_package}.workers.sqs_lambda"
    )
    files["workers/__init__.py"] = env.get_template("workers_init.py.jinja").render(
        banner=BANNER, backends=[*BACKENDS, "sqs_lambda"], package=f"{project.out_package}.workers"
    )
    return files


def manifest_data(inp: RenderInput, files: Mapping[str, bytes]) -> dict[str, Any]:
    project = inp.project
    queues: dict[str, Any] = {}
    for q in project.queues:
        f = q.function
        loc = q.location
        queues[q.name] = {
            "accessor": q.accessor,
            "function": f.import_path,
            "is_async": f.is_async,
            "takes_interaction": f.takes_interaction,
            "input_type": f.input_type,
            "output_type": f.output_type if f.output_schema is not None else "None",
            "input_schema": f"schemas/{q.name}.input.json",
            "output_schema": f"schemas/{q.name}.output.json"
            if f.output_schema is not None
            else None,
            "config": dict(q.config),
            "middleware": list(q.middleware),
            "tags": list(q.tags),
            "docs": dict(f.docs),
            "wiring_module": q.wiring_module,
            "location": {"path": loc.path, "line": loc.line, "col": loc.col},
            "warnings": {b: list(t) for b, t in sorted(inp.warnings.get(q.name, {}).items())},
        }
    extra: dict[str, Any] = {}
    if project.schedules:  # only when there are some: older manifests stay byte-identical
        extra["schedules"] = {s.name: s.to_json() for s in project.schedules}
    return {
        **extra,
        "format": MANIFEST_FORMAT,
        "qgen_version": qgen.__version__,
        "out_package": project.out_package,
        "project_root": inp.project_root,
        "services": project.services,
        "wiring_modules": list(project.wiring_modules),
        "queues": queues,
        # What the build needs to skip work and to know which files it owns.
        "build": {
            "inputs_hash": inp.inputs_hash,
            "files": {p: hashlib.sha256(b).hexdigest() for p, b in sorted(files.items())},
            "warnings": list(inp.build_warnings),
        },
    }


def ruff_command() -> list[str]:
    exe = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "ruff"]


_RUFF_SETTINGS = ("--isolated", "--no-cache", "--target-version", "py311", "--line-length", "100")


def _ruff(tmp: str, *args: str) -> None:
    proc = subprocess.run(
        [*ruff_command(), *args, *_RUFF_SETTINGS, "."],
        cwd=tmp,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RenderError(
            f"ruff {args[0]} failed on generated code: {(proc.stderr or proc.stdout).strip()}"
        )


def format_python(files: dict[str, str]) -> dict[str, str]:
    """One pinned ruff run over every .py file, in a scratch directory: imports sorted (and any
    unused one dropped), then ``ruff format``, all with ``--isolated`` so a user's settings never
    change the bytes."""
    py = {p: t for p, t in files.items() if p.endswith(".py")}
    if not py:
        return dict(files)
    with tempfile.TemporaryDirectory(prefix="qgen-fmt-") as tmp:
        for rel, text in py.items():
            target = Path(tmp, rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _ruff(tmp, "check", "--fix", "--exit-zero", "--select", "I001,F401")
        _ruff(tmp, "format")
        out = dict(files)
        for rel in py:
            out[rel] = Path(tmp, rel).read_text(encoding="utf-8")
    return out


def schema_files(project: ProjectSpec) -> dict[str, str]:
    """``schemas/<queue>.input.json`` and ``.output.json``."""
    files: dict[str, str] = {}
    for q in project.queues:
        files[f"schemas/{q.name}.input.json"] = _schema_file(q.function.input_schema)
        if q.function.output_schema is not None:
            files[f"schemas/{q.name}.output.json"] = _schema_file(q.function.output_schema)
    return files


def render_tree(
    inp: RenderInput, cache_dir: Path | None = None, jobs: int | None = None
) -> dict[str, bytes]:
    """The complete generated tree, formatted, manifest.json included. The schema files are
    written while ruff formats the Python ones (a subprocess: the two overlap)."""
    with phase("render"):
        sources = render_sources(inp, cache_dir, jobs)
    with ThreadPoolExecutor(max_workers=1) as pool:
        formatted = pool.submit(format_python, sources)
        with phase("schemas"):
            schemas = schema_files(inp.project)
        with phase("ruff"):  # what is left of it
            text = {**formatted.result(), **schemas}
    files = {p: t.encode("utf-8") for p, t in sorted(text.items())}
    files["manifest.json"] = _json(manifest_data(inp, files)).encode("utf-8")
    return dict(sorted(files.items()))

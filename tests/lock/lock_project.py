"""Small projects for the schema-lock tests: one module ``shop/jobs.py`` with a queue ``q``, built,
locked and checked through the real CLI (scanner, build, lock file)."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path
from typing import Any

from qgen.cli import main

HEADER = """\
from __future__ import annotations

import enum
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import NotRequired, TypedDict

from qgen import sessionless_func, wire_queue_worker

"""
FOOTER = """

@sessionless_func
async def job(services: object, data: {input}) -> {output}:
    raise NotImplementedError


wire_queue_worker(queue="q", func=job)
"""
DEFAULT_OUT = "class Out(BaseModel):\n    ok: bool\n"
DEFAULT_IN = "class In(BaseModel):\n    a: int\n"
MARK = "# <-"


def source(body: str, *, input: str = "In", output: str = "Out") -> str:
    """The module for ``body`` (class definitions); ``In`` and ``Out`` are added when the body
    has none."""
    body = textwrap.dedent(body).strip("\n") + "\n"
    if output == "Out" and "class Out" not in body:
        body += "\n\n" + DEFAULT_OUT
    if input == "In" and "class In" not in body:
        body += "\n\n" + DEFAULT_IN
    return HEADER + body + FOOTER.format(input=input, output=output)


def write_project(root: Path, module: str) -> Path:
    (root / "shop").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["shop"]\nout = "shop/generated"\n', encoding="utf-8"
    )
    (root / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (root / "shop" / "jobs.py").write_text(module, encoding="utf-8")
    return root


def qgen(project: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*args, "--project", str(project)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def errors(err: str) -> list[str]:
    """The error diagnostics of a run (warnings such as QG302 left out)."""
    return [line for line in err.splitlines() if line and " warning: " not in line]


def marked(module: str) -> tuple[int, int]:
    """(line, col) of the line carrying the ``# <-`` marker: its first non-blank character."""
    for number, line in enumerate(module.splitlines(), start=1):
        if MARK in line:
            return number, len(line) - len(line.lstrip()) + 1
    raise AssertionError("no # <- marker in the new source")


def annotation(module: str, side: str) -> tuple[int, int]:
    """(line, col) of the job's data annotation (``input``) or return annotation (``output``)."""
    for number, line in enumerate(module.splitlines(), start=1):
        if line.startswith("async def job("):
            needle = "data: " if side == "input" else "-> "
            return number, line.index(needle) + len(needle) + 1
    raise AssertionError("no job function")


def schema(project: Path, side: str) -> dict[str, Any]:
    path = project / "shop" / "generated" / "schemas" / f"q.{side}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def valid(schema: dict[str, Any], value: Any) -> bool:
    from jsonschema import Draft202012Validator

    checker = Draft202012Validator.FORMAT_CHECKER
    return bool(Draft202012Validator(schema, format_checker=checker).is_valid(value))

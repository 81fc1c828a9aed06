"""qgen's shape, kept: the same rooms in every backend package, and modules and functions small
enough to read, everywhere in qgen/ (docs/layout.md maps them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qgen.runtime.capabilities import BACKENDS, IMPLEMENTATIONS

ROOT = Path(__file__).resolve().parents[2]
BACKENDS_DIR = ROOT / "qgen" / "runtime" / "backends"
ROOMS = ("__init__", "backend", "url", "transport", "jobs", "outcomes", "consumer")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _checked() -> list[Path]:
    """Every module of qgen: runtime, codegen, the CLI, the dashboard, all of it."""
    return sorted((ROOT / "qgen").rglob("*.py"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_package_has_the_same_rooms(backend: str) -> None:
    package = BACKENDS_DIR / backend
    present = {p.stem for p in package.glob("*.py")}
    assert set(ROOMS) <= present, f"{backend} lacks {sorted(set(ROOMS) - present)}"
    assert IMPLEMENTATIONS[backend].startswith(f"qgen.runtime.backends.{backend}:")


def test_the_rooms_are_written_down_once() -> None:
    doc = (BACKENDS_DIR / "__init__.py").read_text(encoding="utf-8")
    for room in ROOMS[1:]:
        assert f"``{room}.py``" in doc, room
    layout = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")
    assert "Where is a Redis job completed?" in layout
    assert "backends/redis/outcomes.py" in layout


@pytest.mark.parametrize("path", _checked(), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: over {MAX_MODULE_LINES} lines"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}:{node.lineno} {node.name}"

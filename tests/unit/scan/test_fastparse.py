"""The scanner's parse skips libcst's re-validation of the nodes its parser built: the same
trees, and validation back on afterwards (also after a syntax error)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from qgen.codegen.scan.fastparse import parse_module

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted(
    [*(ROOT / "qgen").rglob("*.py"), *(ROOT / "tests" / "golden" / "cases").rglob("*.py")]
)


def test_the_same_trees_as_libcst() -> None:
    assert len(SOURCES) > 100
    for path in SOURCES:
        source = path.read_bytes()
        tree = parse_module(source)
        assert tree.deep_equals(cst.parse_module(source)), path
        assert tree.bytes == source, path


def test_validation_is_back_on_after_each_parse() -> None:
    parse_module(b"x = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")
    with pytest.raises(cst.ParserSyntaxError):
        parse_module(b"def (:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("")

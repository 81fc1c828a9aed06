"""Names that would reach generated code are validated before rendering."""

from __future__ import annotations

import pytest

from qgen.codegen.literals import RenderError, dotted, ident, py_literal


@pytest.mark.parametrize("bad", ["has space", "quote'", 'dq"', "class", "1abc", "a-b", ""])
def test_ident_rejects(bad: str) -> None:
    with pytest.raises(RenderError):
        ident(bad)


@pytest.mark.parametrize("bad", ["a..b", "a.b c", "a.'b'", "import os"])
def test_dotted_rejects(bad: str) -> None:
    with pytest.raises(RenderError):
        dotted(bad)


def test_py_literal_rejects_non_data() -> None:
    with pytest.raises(RenderError):
        py_literal(object())
    with pytest.raises(RenderError):
        py_literal(float("nan"))

"""Constructs the scanner cannot know for certain get a diagnostic naming them and their
location, never a guessed schema. Also: PEP 695 ``type`` aliases (3.12 syntax, read
statically only, so no pydantic comparison on 3.11)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from qgen.codegen.scan.files import summaries
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.schema import SchemaBuilder
from qgen.codegen.scan.sources import discover

HEADER = """\
import datetime
from fractions import Fraction
from typing import Callable, Generic, TypedDict, TypeVar
import typing_extensions
from pydantic import BaseModel, Field

T = TypeVar("T")
"""


def build(tmp_path: Path, body: str, name: str) -> tuple[Any, list[str]]:
    pkg = tmp_path / "m"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "types.py").write_text(HEADER + textwrap.dedent(body))
    by_module, _ = summaries(discover(tmp_path, ["m"], ""), None, 1)
    builder = SchemaBuilder(Index(by_module))
    schema = builder.build(["name", name, [1, 1]], "m.types")
    return schema, [d.format() for d in builder.diagnostics]


CASES = [
    (
        "class A(BaseModel):\n    f: Fraction\n",
        "m/types.py:9:8: QG201 unsupported annotation Fraction (fractions.Fraction)",
    ),
    (
        "class A(BaseModel):\n    f: Callable[[int], str]\n",
        "m/types.py:9:8: QG201 unsupported annotation Callable[[int], str]",
    ),
    (
        "class G(BaseModel, Generic[T]):\n    x: T\nA = G[int]\n",
        "m/types.py:10:5: QG201 unsupported annotation G[int]",
    ),
    (
        "class A(BaseModel):\n    at: datetime.datetime = datetime.datetime.now()\n",
        "m/types.py:9:29: QG203 default datetime.datetime.now() is not a literal qgen can evaluate",
    ),
    (
        "class A(TypedDict):\n    x: int\n",
        "m/types.py:1:1: QG202 A is a typing.TypedDict, which pydantic does not validate on"
        " Python < 3.12; use typing_extensions.TypedDict",
    ),
    (
        "class A(BaseModel):\n    x: int = Field(0, max_digits=3)\n",
        "m/types.py:9:34: QG203 Field(max_digits=...) is not supported by qgen's scanner",
    ),
    (
        "class A(BaseModel):\n    x: dict[str, int] = Field(pattern='a')\n",
        "m/types.py:9:8: QG203 constraint pattern cannot be applied to dict[str, int]",
    ),
    (
        "class A:\n    x: int\n",
        "m/types.py:1:1: QG201 A is not a pydantic model, TypedDict, dataclass or Enum",
    ),
    (
        "class A(BaseModel):\n    x: Missing\n",
        "m/types.py:9:8: QG002 cannot resolve Missing",
    ),
    (
        "import enum\nclass A(enum.Enum):\n    X = object()\n",
        "m/types.py:10:9: QG201 enum member X = object() is not a literal",
    ),
]


@pytest.mark.parametrize(("body", "message"), CASES)
def test_unsupported_is_a_diagnostic(tmp_path: Path, body: str, message: str) -> None:
    schema, diags = build(tmp_path, body, "A")
    assert schema is None
    assert diags == [message]


def test_typing_extensions_typeddict_is_fine(tmp_path: Path) -> None:
    schema, diags = build(tmp_path, "class A(typing_extensions.TypedDict):\n    x: int\n", "A")
    assert diags == []
    assert schema == {
        "properties": {"x": {"title": "X", "type": "integer"}},
        "required": ["x"],
        "title": "A",
        "type": "object",
    }


def test_pep695_type_alias_is_a_named_definition(tmp_path: Path) -> None:
    body = "type Ids = list[int]\nclass A(BaseModel):\n    ids: Ids\n"
    schema, diags = build(tmp_path, body, "A")
    assert diags == []
    # the same shape pydantic gives for a TypeAliasType (see corpus/advanced.py UsesAlias)
    assert schema == {
        "$defs": {"Ids": {"items": {"type": "integer"}, "type": "array"}},
        "properties": {"ids": {"$ref": "#/$defs/Ids"}},
        "required": ["ids"],
        "title": "A",
        "type": "object",
    }


def test_recursive_plain_alias_is_a_diagnostic_not_a_hang(tmp_path: Path) -> None:
    body = "A = list['A']\nB = C\nC = B\nU = int | U\n"
    assert build(tmp_path, body, "A")[1] == [
        "m/types.py:8:10: QG201 recursive type alias A: use TypeAliasType or a model"
    ]
    assert build(tmp_path, body, "B")[0] is None
    assert build(tmp_path, body, "U") == ({"type": "integer"}, [])


def test_recursive_type_alias_type(tmp_path: Path) -> None:
    body = "Tree = typing_extensions.TypeAliasType('Tree', list['Tree'])\n"
    schema, diags = build(tmp_path, body, "Tree")
    assert diags == []
    assert schema == {
        "$defs": {"Tree": {"items": {"$ref": "#/$defs/Tree"}, "type": "array"}},
        "$ref": "#/$defs/Tree",
    }


def test_model_config_keys_that_change_the_schema_are_reported(tmp_path: Path) -> None:
    body = (
        "from pydantic import ConfigDict\n"
        "class A(BaseModel):\n"
        "    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)\n"
        "    x: int\n"
    )
    assert build(tmp_path, body, "A") == (
        None,
        ["m/types.py:10:69: QG203 model_config use_attribute_docstrings is not supported by qgen"],
    )

"""Static schemas of the corpus compared with ``pydantic.TypeAdapter(T).json_schema()``.

The normalizations: both sides go through ``json.loads(json.dumps(x, sort_keys=True))``,
i.e. dict key order is ignored (JSON objects are unordered) and tuples compare as lists; and
qgen's own ``x-qgen-type`` marks (a ``Decimal``'s members, which JSON Schema cannot tell from a
number or a string) are dropped from the scanned side.
List order (``required``, ``enum``, ``anyOf``, ``prefixItems``) must match exactly.

Each case names a top-level type (a class or an alias) in a module of ``corpus``; the scanner
reads the files with libcst, the reference imports the same module at test time.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from qgen.codegen.scan.files import summaries
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.schema import SchemaBuilder
from qgen.codegen.scan.sources import discover

ROOT = Path(__file__).resolve().parents[3]
PKG = "tests.unit.schema.corpus"

CASES: dict[str, list[str]] = {
    "primitives": [
        "Str", "Int", "Float", "Bool", "Bytes", "NoneType_", "AnyT", "DateTime", "Date", "Time",
        "Delta", "Uid", "Dec", "ListInt", "BareList", "BareDict", "DictStrFloat", "DictAny",
        "SetStr", "FrozenInt", "TupleFixed", "TupleVar", "TupleEmpty", "SeqInt", "MapStrInt",
        "OptInt", "IntOrNone", "UnionIS", "UnionNested", "UnionDup", "Lit1", "LitMany",
        "LitMixed", "LitNone", "LitInts", "PositiveInt", "Name", "Described", "ListOfNames",
        "NamesMinMax", "NestedContainers", "DocOnly", "ForwardList", "UserId", "IdQueue",
    ],
    "enums": ["Color", "Level", "Mode", "Counted", "Mixed"],
    "models": [
        "Simple", "WithDefaults", "Constrained", "Order", "Line", "Base", "Child", "Node",
        "Strict", "Outer", "Qualified",
    ],
    "typed": ["Address", "Partial", "Extended"],
    "dcs": ["Point", "Documented", "Point3"],
    "forward": ["Tree", "UsesBoth", "ViaPackage"],
    "cross.b": ["Item"],
    "pydtypes": ["Special", "Ids", "Names"],
    "advanced": [
        "Cat", "Pets", "Annotations", "Extras", "Holder", "Ping", "Pong", "TreeDict",
        "Pets_or_list", "Ids", "UsesAlias", "Tagged", "Constants", "DescribedCat",
        "MaybeCat", "CatOrDog", "Recursive", "AliasDefaults", "WithMixin",
    ],
}  # fmt: skip
PARAMS = [(mod, name) for mod, names in CASES.items() for name in names]


def normalize(schema: Any) -> Any:
    return json.loads(json.dumps(_unmarked(schema), sort_keys=True))


def _unmarked(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _unmarked(v) for k, v in node.items() if k != "x-qgen-type"}
    if isinstance(node, list):
        return [_unmarked(v) for v in node]
    return node


@pytest.fixture(scope="module")
def index() -> Index:
    files = discover(ROOT, [PKG], out_package="")
    by_module, _ = summaries(files, cache_dir=None, jobs=1)
    return Index(by_module)


def test_corpus_is_big_enough() -> None:
    assert len(PARAMS) >= 40


@pytest.mark.parametrize(("mod", "name"), PARAMS, ids=[f"{m}.{n}" for m, n in PARAMS])
def test_static_schema_matches_pydantic(index: Index, mod: str, name: str) -> None:
    module = f"{PKG}.{mod}"
    builder = SchemaBuilder(index)
    got = builder.build(["name", name, [1, 1]], module)
    assert [d.format() for d in builder.diagnostics] == []
    expected = TypeAdapter(getattr(importlib.import_module(module), name)).json_schema()
    assert normalize(got) == normalize(expected)


def test_differs_on_purpose_computed_default(index: Index) -> None:
    """pydantic evaluates ``Names(["a"])`` and writes ``"default": ["a"]``; the scanner never
    runs user code, so it reports the default instead of guessing it."""
    module = f"{PKG}.pydtypes"
    expected = TypeAdapter(importlib.import_module(module).WithRoots).json_schema()
    assert expected["properties"]["names"]["default"] == ["a"]
    builder = SchemaBuilder(index)
    assert builder.build(["name", "WithRoots", [1, 1]], module) is None
    assert [d.format() for d in builder.diagnostics] == [
        "tests/unit/schema/corpus/pydtypes.py:34:20: QG203 default Names(['a']) is not a literal"
        " qgen can evaluate"
    ]

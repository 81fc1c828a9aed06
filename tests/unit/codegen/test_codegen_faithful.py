"""The models qgen writes are faithful: for every type of the schema corpus, the JSON Schema of
the generated model equals the scanned one.

The corpus is the scanner's (``tests/unit/schema``), whose schemas match pydantic's for the
user's own types. Normalized away, on both sides, only what does not change validation and is
documented in docs/decisions.md: titles, definition names (references are inlined),
descriptions of schemas that are not models (a type alias has nowhere to keep one), ``x-``
keys from ``json_schema_extra``, ``"default": null`` (a field that may be left out defaults to
``_unset``), duplicate enum values, ``writeOnly`` (a ``SecretStr`` would be sent as
asterisks, so the client model holds a plain ``str``), and string formats pydantic does not
validate without changing the value (``uri``: ``AnyUrl`` would rewrite the URL; ``path``).
"""

from __future__ import annotations

import json
import sys
import types
from typing import Any

import pytest
from pydantic import TypeAdapter

from qgen.codegen import models
from qgen.codegen.ir import FunctionSpec, QueueSpec, SourceLocation
from qgen.codegen.scan.files import summaries
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.schema import SchemaBuilder
from qgen.codegen.scan.sources import discover
from tests.unit.schema.test_schema_corpus import CASES, PKG, ROOT

# A description on a reference (``Annotated[Cat, Field(description=...)]``) documents the use,
# not the type; it has no place in a model and validates nothing.
SKIP = {("advanced", "DescribedCat")}
PARAMS = [(m, n) for m, names in CASES.items() for n in names if (m, n) not in SKIP]
_PLAIN_FORMATS = {"uri", "path", "password", "email"}


def _inline(schema: dict[str, Any]) -> Any:
    defs = schema.get("$defs", {})

    def go(node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and depth < 8:
                target = go(defs[node["$ref"].split("/")[-1]], depth + 1)
                return {**target, **{k: go(v, depth) for k, v in node.items() if k != "$ref"}}
            return {k: go(v, depth) for k, v in node.items() if k not in ("$defs", "$ref")}
        if isinstance(node, list):
            return [go(v, depth) for v in node]
        return node

    return go(schema, 0)


def _normalize(node: Any) -> Any:
    if isinstance(node, list):
        return [_normalize(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if (
            key in ("title", "writeOnly")
            or key.startswith("x-")
            or (key == "default" and value is None)
        ):
            continue
        if key == "description" and "properties" not in node:
            continue
        if key == "format" and value in _PLAIN_FORMATS:
            continue
        if key == "enum":
            value = list({json.dumps(v): v for v in value}.values())
        if key == "discriminator":
            continue  # the members are compared; the mapping names definitions
        out[key] = value if key == "enum" else _normalize(value)
    return out


@pytest.fixture(scope="module")
def index() -> Index:
    files = discover(ROOT, [PKG], out_package="")
    return Index(summaries(files, cache_dir=None, jobs=1)[0])


@pytest.mark.parametrize(("mod", "name"), PARAMS, ids=[f"{m}.{n}" for m, n in PARAMS])
def test_generated_model_has_the_scanned_schema(index: Index, mod: str, name: str) -> None:
    schema = SchemaBuilder(index).build(["name", name, [1, 1]], f"{PKG}.{mod}")
    assert schema is not None
    fn = FunctionSpec("f", "m", True, False, name, "None", schema, None)
    queue = QueueSpec("q", "q", fn, {}, (), (), "m", SourceLocation("m.py", 1, 1))
    rendered = models.render_models(models.combine([queue]), "# test")
    assert rendered.fallback == (), "qgen writes every shape its scanner emits"
    text = rendered.text
    module = types.ModuleType(f"qgen_faithful_{mod.replace('.', '_')}_{name}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, module.__name__, "exec"), module.__dict__)
        got = TypeAdapter(module.QInput).json_schema()
        twin = getattr(module, "QInputDict", None)
        # pydantic reads the twin's string annotations (``from __future__ import annotations``
        # hides NotRequired from ``__required_keys__`` on Python < 3.14).
        twin_schema = None if twin is None else TypeAdapter(twin).json_schema()
    finally:
        del sys.modules[module.__name__]
    assert _normalize(_inline(got)) == _normalize(_inline(schema)), text
    root = _inline(schema)
    if "properties" in root:  # the TypedDict twin: the same keys, required as the schema says
        assert twin_schema is not None, text
        twin_root = _inline(twin_schema)
        assert set(twin_root["properties"]) == set(root["properties"]), text
        assert set(twin_root.get("required", [])) == set(root.get("required", [])), text

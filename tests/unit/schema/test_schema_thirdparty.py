"""Every pydantic model, TypedDict, dataclass and enum of an installed third-party package
(datamodel-code-generator, a dependency of qgen's codegen extra), read statically and
compared with ``pydantic.TypeAdapter(T).json_schema()`` of the imported class.

Each class must either match (after the normalization of test_schema_corpus: key order
ignored) or be refused with a diagnostic; a schema that differs is a bug. Classes pydantic
itself cannot make a schema for are skipped.
"""

from __future__ import annotations

import importlib
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from qgen.codegen.scan.classes import class_kind
from qgen.codegen.scan.files import summaries
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.schema import SchemaBuilder
from qgen.codegen.scan.sources import discover

PACKAGE = "datamodel_code_generator"
KINDS = ("model", "root", "typeddict", "dataclass", "enum")


def normalize(schema: Any) -> Any:
    return json.loads(json.dumps(schema, sort_keys=True))


@pytest.mark.timeout(600)
def test_installed_package_models_match_or_are_refused() -> None:
    module = importlib.import_module(PACKAGE)
    root = Path(module.__file__ or "").resolve().parent.parent
    by_module, _ = summaries(discover(root, [PACKAGE], ""), None, None)
    index = Index(by_module, (PACKAGE,))
    matched, refused, differing = [], [], []
    for mod, summary in sorted(by_module.items()):
        for name, info in sorted(summary["defs"].items()):
            if (
                info["k"] != "class"
                or class_kind(SchemaBuilder(index), ("def", mod, name)) not in KINDS
            ):
                continue
            builder = SchemaBuilder(index)
            got = builder.build(["name", name, [1, 1]], mod)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    expected = TypeAdapter(
                        getattr(importlib.import_module(mod), name)
                    ).json_schema()
            except Exception:
                continue  # pydantic refuses it too (or the module needs optional extras)
            if got is None:
                assert builder.diagnostics, f"{mod}.{name}: no schema and no diagnostic"
                refused.append(f"{mod}.{name}")
            elif normalize(got) == normalize(expected):
                matched.append(f"{mod}.{name}")
            else:
                differing.append(f"{mod}.{name}")
    assert differing == []
    assert len(matched) >= 200, (len(matched), len(refused))

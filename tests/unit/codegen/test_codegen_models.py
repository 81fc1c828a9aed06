"""Merging every queue's schemas into one namespace for datamodel-code-generator."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from qgen.codegen import models
from qgen.codegen.ir import FunctionSpec, QueueSpec, SourceLocation
from qgen.runtime.names import accessor_for


def _queue(name: str, schema_in: dict[str, Any], schema_out: dict[str, Any] | None) -> QueueSpec:
    fn = FunctionSpec(
        name="f",
        module="m",
        is_async=True,
        takes_interaction=False,
        input_type="X",
        output_type="Y",
        input_schema=schema_in,
        output_schema=schema_out,
    )
    loc = SourceLocation("m.py", 1, 1)
    return QueueSpec(name, accessor_for(name), fn, {}, (), (), "m", loc)


def _model(title: str, props: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": title, "type": "object", "properties": props}
    if defs:
        schema["$defs"] = defs
    return schema


ADDR_A = {"title": "Address", "type": "object", "properties": {"street": {"type": "string"}}}
ADDR_B = {"title": "Address", "type": "object", "properties": {"lat": {"type": "number"}}}


def test_stable_names_and_collisions() -> None:
    q1 = _queue(
        "a-1",
        _model("Order", {"to": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_A}),
        {"type": "integer"},
    )
    q2 = _queue(
        "b.2", _model("Ping", {"at": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_B}), None
    )
    q3 = _queue("c", _model("Pong", {"at": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_A}), None)
    combined = models.combine([q1, q2, q3])
    assert combined.names["a-1"] == models.QueueModelNames("A1Input", "A1Output")
    assert combined.names["b.2"] == models.QueueModelNames("B2Input", None)
    # first queue keeps the name; a different Address is renamed (made-up titles dropped)
    assert combined.defs["Address"] == {k: v for k, v in ADDR_A.items() if k != "title"}
    assert combined.defs["Address2"] == {k: v for k, v in ADDR_B.items() if k != "title"}
    assert combined.defs["B2Input"]["properties"]["at"] == {"$ref": "#/$defs/Address2"}
    assert combined.defs["CInput"]["properties"]["at"] == {"$ref": "#/$defs/Address"}  # shared
    assert combined.defs["A1Output"] == {"type": "integer"}
    assert combined.sugar == {"Order": "A1Input", "Ping": "B2Input", "Pong": "CInput"}


def test_made_up_titles_are_dropped_and_user_titles_kept() -> None:
    schema = _model(
        "Order",
        {
            "order_id": {"title": "Order Id", "type": "string"},
            "x": {"title": "A nice title", "type": "string"},
            "n": {"anyOf": [{"$ref": "#/$defs/Sub"}, {"type": "null"}], "title": "N"},
        },
        {"Sub": {"title": "Sub", "type": "object", "properties": {"v": {"title": "V"}}}},
    )
    combined = models.combine([_queue("q", schema, None)])
    assert combined.defs["QInput"]["properties"] == {
        "order_id": {"type": "string"},
        "x": {"title": "A nice title", "type": "string"},
        "n": {"anyOf": [{"$ref": "#/$defs/Sub"}, {"type": "null"}]},
    }
    assert combined.defs["Sub"] == {"type": "object", "properties": {"v": {}}}
    assert combined.sugar == {"Order": "QInput"}


def test_recursive_root_is_renamed_to_the_stable_name() -> None:
    node = {
        "title": "Node",
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
    }
    q = _queue("tree", {"$ref": "#/$defs/Node", "$defs": {"Node": node}}, None)
    combined = models.combine([q])
    assert set(combined.defs) == {"TreeInput"}
    assert combined.defs["TreeInput"]["properties"]["kids"]["items"] == {
        "$ref": "#/$defs/TreeInput"
    }


def test_user_names_never_take_stable_or_reserved_names() -> None:
    q = _queue(
        "pay",
        _model(
            "X",
            {"a": {"$ref": "#/$defs/PayInput"}, "b": {"$ref": "#/$defs/Field"}},
            {"PayInput": ADDR_A, "Field": ADDR_B},
        ),
        None,
    )
    combined = models.combine([q])
    assert "PayInput2" in combined.defs and "FieldModel" in combined.defs
    assert combined.defs["PayInput"]["properties"]["b"] == {"$ref": "#/$defs/FieldModel"}


def test_render_models_generates_each_stable_class(tmp_path: Path) -> None:
    q1 = _queue(
        "a",
        _model("Order", {"to": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_A}),
        {"type": "array", "items": {"type": "integer"}},
    )
    q2 = _queue("b", _model("Ping", {"at": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_B}), None)
    path = tmp_path / "qgen_unit_models.py"
    path.write_text(models.render_models(models.combine([q1, q2]), "# banner"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("qgen_unit_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["qgen_unit_models"] = module
    try:
        spec.loader.exec_module(module)
        assert module.AInput(to={"street": "x"}).to.street == "x"
        assert module.BInput(at={"lat": 1.5}).at.lat == 1.5
        assert module.Order is module.AInput
        assert TypeAdapter(module.AOutput).validate_python([1, "2"]) == [1, 2]
    finally:
        del sys.modules["qgen_unit_models"]


def test_groups_are_closed_and_cached(tmp_path: Path) -> None:
    queues = [
        _queue(
            f"q{i}", _model(f"M{i}", {"a": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_A}), None
        )
        for i in range(models.GROUP_SIZE + 5)
    ]
    combined = models.combine(queues)
    groups = models._groups(combined)
    assert len(groups) == 2
    for group in groups:
        assert "Address" in group["$defs"]
    first = models.render_models(combined, "# b", tmp_path)
    assert len(list(tmp_path.glob("*.py.txt"))) == 2
    assert models.render_models(combined, "# b", tmp_path) == first


def test_cache_keeps_only_groups_in_use(tmp_path: Path) -> None:
    def project(extra: str) -> models.CombinedSchema:
        return models.combine(
            [
                _queue(
                    f"q{i:03d}",
                    _model(f"M{i}", {extra if i == 0 else "a": {"type": "integer"}}),
                    None,
                )
                for i in range(models.GROUP_SIZE + 1)
            ]
        )

    models.render_models(project("a"), "# b", tmp_path)
    before = sorted(tmp_path.glob("*.py.txt"))
    models.render_models(project("changed"), "# b", tmp_path)
    after = sorted(tmp_path.glob("*.py.txt"))
    assert len(before) == len(after) == 2
    assert len(set(before) & set(after)) == 1  # the untouched group was reused

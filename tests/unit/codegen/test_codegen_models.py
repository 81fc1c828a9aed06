"""Merging every queue's schemas into one namespace named as the user named the types, and the
models module qgen writes from it (datamodel-code-generator only for shapes qgen does not
write)."""

from __future__ import annotations

import importlib.util
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

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
ORDER = _model("Order", {"to": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_A})


def test_one_definition_per_user_type_with_per_queue_aliases() -> None:
    q1 = _queue("a-1", ORDER, {"type": "integer"})
    q2 = _queue(
        "b.2", _model("Ping", {"at": {"$ref": "#/$defs/Address"}}, {"Address": ADDR_B}), None
    )
    q3 = _queue("c", ORDER, None)  # the same type as a-1: shared
    combined = models.combine([q1, q2, q3])
    assert combined.names["a-1"] == models.QueueModelNames(
        "A1Input", "A1Output", "Order", "A1Output"
    )
    assert combined.names["c"] == models.QueueModelNames("CInput", None, "Order", None)
    assert set(combined.defs) == {"Order", "Address", "A1Output", "Ping", "Address2"}
    assert combined.defs["Address"] == {k: v for k, v in ADDR_A.items() if k != "title"}
    assert combined.defs["Ping"]["properties"]["at"] == {"$ref": "#/$defs/Address2"}


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
    assert combined.defs["Order"]["properties"] == {
        "order_id": {"type": "string"},
        "x": {"title": "A nice title", "type": "string"},
        "n": {"anyOf": [{"$ref": "#/$defs/Sub"}, {"type": "null"}]},
    }
    assert combined.defs["Sub"] == {"type": "object", "properties": {"v": {}}}


def test_recursive_root_keeps_the_users_name() -> None:
    node = {
        "title": "Node",
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
    }
    combined = models.combine(
        [_queue("tree", {"$ref": "#/$defs/Node", "$defs": {"Node": node}}, None)]
    )
    assert set(combined.defs) == {"Node"}
    assert combined.defs["Node"]["properties"]["kids"]["items"] == {"$ref": "#/$defs/Node"}
    assert combined.names["tree"].input_def == "Node"


def test_user_names_never_take_queue_aliases_or_reserved_names() -> None:
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
    assert "PayInput" not in combined.defs and "Field" not in combined.defs
    assert combined.defs["X"]["properties"]["b"]["$ref"] in ("#/$defs/Field2", "#/$defs/Address")


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Any]:
    loaded: list[str] = []

    def _load(text: str) -> ModuleType:
        name = f"qgen_unit_models_{len(loaded)}"
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield _load
    for name in loaded:
        sys.modules.pop(name, None)


def test_rendered_models_validate_and_twins_mirror_the_schema(load: Any) -> None:
    pet = _model(
        "Pet",
        {
            "from": {"type": "string"},
            "born": {"type": "string", "format": "date", "default": "2020-01-01"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["cat", "dog"], "type": "string"},
            "home": {"$ref": "#/$defs/Address"},
        },
        {"Address": ADDR_A},
    )
    pet["required"] = ["from", "home"]
    q1 = _queue("pets", pet, {"type": "array", "items": {"type": "integer"}})
    module_text = models.render_models(models.combine([q1]), "# banner")
    assert module_text.queues["pets"] == models.QueueTypes(
        "PetsInput", "PetsInputDict", "PetsOutput", "PetsData"
    )
    mod = load(module_text.text)
    assert mod.PetsInput is mod.Pet and mod.PetsInputDict is mod.PetDict
    pet_obj = mod.Pet.model_validate({"from": "x", "home": {"street": "s"}})
    dumped = mod.Pet.__pydantic_validator__.validate_python({"from": "x", "home": {"street": "s"}})
    assert pet_obj.home.street == "s" and dumped.model_dump(by_alias=True, exclude_unset=True) == {
        "from": "x",
        "home": {"street": "s"},
    }
    with pytest.raises(ValidationError):
        mod.Pet.model_validate(
            {"from": "x", "home": {"street": "s"}, "tags": None}
        )  # absent, not null
    with pytest.raises(ValidationError):
        mod.Pet.model_validate({"from": "x", "home": {"street": "s"}, "kind": "cow"})
    hints = mod.PetDict.__annotations__
    assert set(hints) == {"from", "born", "tags", "kind", "home"}
    assert mod.PetDict.__required_keys__ == frozenset({"from", "home"})
    assert TypeAdapter(mod.PetsOutput).validate_python([1, "2"]) == [1, 2]


def test_shapes_qgen_does_not_write_go_to_datamodel_code_generator(load: Any) -> None:
    two = {"^a": {"type": "integer"}, "^b": {"type": "string"}}  # one pattern qgen writes itself
    odd = _model("Odd", {"m": {"type": "object", "patternProperties": two}})
    combined = models.combine([_queue("odd", odd, None), _queue("fine", ORDER, None)])
    module_text = models.render_models(combined, "# banner")
    mod = load(module_text.text)
    assert mod.Odd.model_validate({"m": {"a": 1}}).m == {"a": 1}
    assert typing.get_origin(mod.OddDict.__value__) is dict  # a loose twin
    assert mod.Order.model_validate({"to": {"street": "x"}}).to.street == "x"

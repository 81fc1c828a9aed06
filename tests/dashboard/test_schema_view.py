"""Job data and results laid out against their schema (the job page's tree)."""

from __future__ import annotations

from typing import Any

from qgen.dashboard.schema_view import MAX_DEPTH, Node, view

SCHEMA: dict[str, Any] = {
    "$defs": {
        "Pet": {
            "oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {"cat": "#/$defs/Cat", "dog": "#/$defs/Dog"},
            },
        },
        "Cat": {
            "type": "object",
            "properties": {
                "kind": {"const": "cat"},
                "lives": {"type": "integer", "title": "Lives"},
            },
        },
        "Dog": {
            "type": "object",
            "properties": {"kind": {"const": "dog"}, "good": {"type": "boolean", "title": "Good"}},
        },
        "Tree": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Name"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
            },
        },
    },
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "title": "Amount", "description": "In cents"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Note"},
        "pet": {"$ref": "#/$defs/Pet", "description": "The pet"},
        "tree": {"$ref": "#/$defs/Tree"},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "tags": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def fields(node: Node) -> dict[str, Any]:
    assert node.kind == "object"
    return {f.name: f for f in node.fields}


def test_fields_carry_titles_and_descriptions_required_first() -> None:
    schema = {**SCHEMA, "required": ["tree", "note"]}
    node = view({"amount": 5, "zzz": 1, "note": None, "tree": {"name": "t"}}, schema)
    assert [f.name for f in node.fields] == ["tree", "note", "amount", "zzz"]
    amount = fields(node)["amount"]
    assert (amount.title, amount.description) == ("Amount", "In cents")
    assert (amount.node.kind, amount.node.text, amount.node.type_name) == ("text", "5", "integer")
    assert fields(node)["note"].node.text == "null"


def test_a_discriminated_union_is_read_with_the_matching_branch() -> None:
    node = view({"pet": {"kind": "dog", "good": True}}, SCHEMA)
    pet = fields(node)["pet"]
    assert pet.description == "The pet"
    good = fields(pet.node)["good"]
    assert good.title == "Good" and good.node.text == "true"


def test_recursion_and_tuples() -> None:
    tree = {"name": "a", "children": [{"name": "b", "children": []}]}
    node = view({"tree": tree, "pair": ["x", 2]}, SCHEMA)
    child = fields(node)["tree"].node.fields[1].node.items[0]
    assert fields(child)["name"].title == "Name"
    pair = fields(node)["pair"].node
    assert [i.type_name for i in pair.items] == ["string", "integer"]


def test_undeclared_keys_are_marked_and_maps_are_not() -> None:
    node = view({"amount": 1, "surprise": [1]}, SCHEMA)
    assert fields(node)["surprise"].in_schema is False
    tags = fields(view({"tags": {"k": "v"}}, SCHEMA))["tags"].node
    assert fields(tags)["k"].in_schema is True


def test_anything_renders_without_raising() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    assert view(deep, {}).kind == "array"
    assert view({"a": 1}, {"$ref": "#/$defs/Missing"}).kind == "object"
    assert view("text", {"$ref": "#"}).text == "text"
    assert view({"pet": {"kind": "bird"}}, SCHEMA).kind == "object"
    assert view(None, None).text == "null"

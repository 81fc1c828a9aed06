"""The comparison on hand-written schemas: shapes a scan rarely produces (mutual recursion,
renamed definitions, type lists, dict keys, ``x-`` extensions), each verdict checked against
jsonschema with a value that separates the two schemas."""

from __future__ import annotations

from typing import Any

import pytest

from qgen.codegen.lock.compare import Differ
from tests.lock.lock_project import valid

INT = {"type": "integer"}
STR = {"type": "string"}


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, bool, bool, str]]:
    return [
        (c.describe(), c.breaks_input, c.breaks_output, c.at.owner or "")
        for c in Differ(old, new).run()
    ]


def _obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": sorted(props)}


def test_identical_schemas_have_no_changes() -> None:
    schema = _obj(a=INT, b={"anyOf": [STR, {"type": "null"}], "default": None})
    assert _changes(schema, schema) == []


def test_annotations_and_extensions_are_not_changes() -> None:
    old = _obj(a={**INT, "title": "A", "description": "old", "x-doc": 1})
    new = _obj(a={**INT, "title": "Aa", "examples": [1], "x-doc": 2})
    assert _changes(old, new) == []


def test_integer_bounds_compare_as_whole_numbers() -> None:
    assert _changes(_obj(n={**INT, "exclusiveMinimum": 0}), _obj(n={**INT, "minimum": 1})) == []
    got = _changes(
        _obj(n={"type": "number", "exclusiveMinimum": 0}), _obj(n={"type": "number", "minimum": 1})
    )
    assert got == [("field 'n': minimum tightened from > 0 to >= 1", True, False, "")]
    assert valid(_obj(n={"type": "number", "exclusiveMinimum": 0}), {"n": 0.5})
    assert not valid(_obj(n={"type": "number", "minimum": 1}), {"n": 0.5})


def test_multiple_of_that_neither_divides_breaks_both_ways() -> None:
    got = _changes({**INT, "multipleOf": 2}, {**INT, "multipleOf": 3})
    assert got == [("multipleOf changed from 2 to 3", True, True, "")]
    assert valid({**INT, "multipleOf": 2}, 4) and not valid({**INT, "multipleOf": 3}, 4)
    assert valid({**INT, "multipleOf": 3}, 3) and not valid({**INT, "multipleOf": 2}, 3)


def test_mutual_recursion_ends() -> None:
    def tree(leaf: dict[str, Any]) -> dict[str, Any]:
        return {
            "$defs": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/$defs/B"}, "v": leaf}},
                "B": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}}},
            },
            "$ref": "#/$defs/A",
        }

    got = _changes(tree(INT), tree(STR))
    assert got == [("field 'v': type changed from integer to string", True, True, "A")]


def test_renamed_definition_is_compared_not_replaced() -> None:
    def wrap(name: str, field: dict[str, Any]) -> dict[str, Any]:
        return {
            "$defs": {name: _obj(x=field)},
            "type": "object",
            "properties": {"p": {"anyOf": [{"$ref": f"#/$defs/{name}"}, {"type": "null"}]}},
        }

    assert _changes(wrap("Address", STR), wrap("PostalAddress", STR)) == []
    got = _changes(wrap("Address", STR), wrap("PostalAddress", INT))
    assert got == [
        ("field 'p.x': type changed from string to integer", True, True, "PostalAddress")
    ]


def test_type_lists_and_nullability() -> None:
    got = _changes({"type": ["string", "null"]}, STR)
    assert got == [("type narrowed from null or string to string", True, False, "")]
    assert valid({"type": ["string", "null"]}, None) and not valid(STR, None)


def test_dict_keys_and_values() -> None:
    old = {"type": "object", "additionalProperties": INT}
    new = {"type": "object", "additionalProperties": INT, "propertyNames": {"maxLength": 3}}
    assert _changes(old, new) == [("field '(keys)': maxLength 3 added", True, False, "")]
    assert valid(old, {"long": 1}) and not valid(new, {"long": 1})
    patterned = {"type": "object", "patternProperties": {"^a": INT}}
    other = {"type": "object", "patternProperties": {"^b": INT}}
    assert _changes(patterned, other)[0][1:3] == (True, True)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # closed model -> dict: old producers sent declared fields only; the dict accepts them
        (_obj(a=INT), {"type": "object", "additionalProperties": INT}, (False, True)),
        # dict of any -> dict of int: old jobs may hold strings
        (
            {"type": "object", "additionalProperties": True},
            {"type": "object", "additionalProperties": INT},
            (True, False),
        ),
    ],
)
def test_models_and_dicts(
    old: dict[str, Any], new: dict[str, Any], expected: tuple[bool, bool]
) -> None:
    got = Differ(old, new).run()
    verdict = (any(c.breaks_input for c in got), any(c.breaks_output for c in got))
    assert verdict == expected, got


def test_new_field_on_an_open_model_meets_old_extra_keys() -> None:
    """extra="allow": old jobs may already carry any key, so a typed new field can break them."""
    old = {"type": "object", "properties": {"a": INT}, "additionalProperties": True}
    new = {"type": "object", "properties": {"a": INT, "b": INT}, "additionalProperties": True}
    got = _changes(old, new)
    assert got == [("field 'b' added", True, False, "")]
    assert valid(old, {"a": 1, "b": "x"}) and not valid(new, {"a": 1, "b": "x"})


def test_enum_against_a_constrained_type() -> None:
    got = _changes({"enum": ["a", "bb"]}, {**STR, "maxLength": 1})
    assert got == [
        ('value "bb" no longer accepted', True, False, ""),
        ('no longer restricted to values "a", "bb"', False, True, ""),
    ]


def test_union_of_models_reports_members_not_fields() -> None:
    defs = {name: _obj(kind={"const": name.lower()}) for name in ("A", "B", "C", "D")}

    def union(*names: str) -> dict[str, Any]:
        return {"$defs": defs, "anyOf": [{"$ref": f"#/$defs/{n}"} for n in names]}

    assert _changes(union("A", "B"), union("A", "C", "D")) == [
        ("no longer accepts B", True, False, ""),
        ("now accepts C", False, True, ""),
        ("now accepts D", False, True, ""),
    ]


def test_model_made_optional_is_still_compared_inside() -> None:
    old = {"$defs": {"A": _obj(x=STR)}, **_obj(a={"$ref": "#/$defs/A"})}
    new_a = {"anyOf": [{"$ref": "#/$defs/A"}, {"type": "null"}], "default": None}
    new = {"$defs": {"A": _obj(x=INT)}, "type": "object", "properties": {"a": new_a}}
    assert _changes(old, new) == [
        ("field 'a' became optional", False, False, ""),
        ("field 'a.x': type changed from string to integer", True, True, "A"),
        ("field 'a': now accepts null", False, True, ""),
    ]

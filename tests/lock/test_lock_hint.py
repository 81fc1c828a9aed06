"""The runtime half of item 4: matching validation errors to the lock's recorded input changes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from qgen.runtime.schema_changes import SchemaHistory, explain, hint, matches, read_histories

HISTORY = SchemaHistory.model_validate(
    {
        "locked": 4,
        "breaking": [
            {"version": None, "field": ["note"], "message": "field 'note' added as required"},
            {"version": 4, "field": ["amount"], "message": "field 'amount': minimum tightened"},
            {"version": 4, "field": ["lines", "[]", "sku"], "message": "field 'lines[].sku' ..."},
            {"version": 2, "field": ["currency"], "message": "field 'currency' became required"},
        ],
    }
)


@pytest.mark.parametrize(
    ("field", "loc", "expected"),
    [
        (("currency",), ("currency",), True),
        (("currency",), ("amount",), False),
        (("address",), ("address", "zip"), True),  # the error is deeper than the change
        (("address", "zip"), ("address",), False),
        (("lines", "[]", "sku"), ("lines", 3, "sku"), True),
        (("lines", "[]", "sku"), ("lines", "x", "sku"), False),
        (("lines", "[1]"), ("lines", 1), True),
        (("lines", "[1]"), ("lines", 0), False),
        (("tags", "{}"), ("tags", "any-key"), True),
        (("pet", "kind"), ("pet", "Cat", "kind"), True),  # pydantic's union member tag
        ((), ("anything", 1), True),  # a change of the whole input
    ],
)
def test_matches(field: tuple[str, ...], loc: tuple[str | int, ...], expected: bool) -> None:
    assert matches(field, loc) is expected


def test_oldest_matching_change_names_the_version() -> None:
    text = explain("q", HISTORY, [("currency",), ("amount",)])
    assert text == (
        "this job was likely made by schema version 1 of queue 'q'; changes since: "
        "field 'note' added as required (not locked yet); field 'amount': minimum tightened "
        "(version 4); field 'lines[].sku' ... (version 4); and 1 more"
    )


def test_newer_change_only() -> None:
    text = explain("q", HISTORY, [("lines", 0, "sku")])
    assert text.startswith("this job was likely made by schema version 3 of queue 'q'; ")
    assert "currency" not in text


def test_unlocked_change_points_at_the_locked_version() -> None:
    text = explain("q", HISTORY, [("note",)])
    assert text == (
        "this job was likely made by schema version 4 of queue 'q'; changes since: "
        "field 'note' added as required (not locked yet)"
    )


def test_no_matching_field_lists_the_latest_changes() -> None:
    text = explain("q", HISTORY, [("other",)])
    assert text.startswith("the input schema of queue 'q' changed since: field 'note' added")


class _In(BaseModel):
    currency: str


def _error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _In.model_validate({})
    return info.value


def test_hint_from_a_pydantic_error() -> None:
    assert hint("q", HISTORY, _error()).startswith("; this job was likely made by schema version 1")
    assert hint("q", None, _error()) == ""
    assert hint("q", SchemaHistory(locked=1), _error()) == ""


def test_manifest_section_is_read_tolerantly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"format": 1, "schema_lock": {"q": HISTORY.model_dump()}}))
    assert read_histories(path) == {"q": HISTORY}
    path.write_text(json.dumps({"format": 1}))
    assert read_histories(path) == {}
    path.write_text(json.dumps({"format": 1, "schema_lock": {"q": {"locked": "x"}}}))
    with caplog.at_level(logging.WARNING, logger="qgen.worker"):
        assert read_histories(path) == {}
    assert "ignoring the schema_lock section" in caplog.text

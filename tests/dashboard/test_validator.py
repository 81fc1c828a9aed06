"""The page's validator (static/validate.js) against the JSON Schemas pydantic (and so qgen)
emits: on every probe value it must agree with the `jsonschema` library, put each error at the
field it belongs to, and never refuse a date or time the server would accept."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import pydantic
import pytest
from dashboard_harness import dashboard
from playwright.sync_api import Page
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    email: str | None = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = Field(ge=0, le=9)


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Tree(BaseModel):
    name: str
    children: list[Tree] = []


class Item(BaseModel):
    sku: str = Field(pattern=r"^[A-Z]{3}-\d+$")
    quantity: int = Field(ge=1, le=100)


class Order(BaseModel):
    order_id: str = Field(max_length=5)
    customer: Customer
    items: list[Item] = Field(default=[], max_length=3)
    pet: Annotated[Cat | Dog, Field(discriminator="kind")] | None = None


TYPES: list[Any] = [
    int,
    Annotated[int, Field(gt=0, le=10)],
    Annotated[int, Field(ge=-5, lt=5, multiple_of=5)],
    Annotated[float, Field(ge=0.5)],
    bool,
    str,
    Annotated[str, Field(min_length=2, max_length=3)],
    Annotated[str, Field(pattern=r"^[a-c]+$")],
    Literal["EUR", "USD"],
    Literal[1, "1", None],
    Color,
    int | None,
    int | str | None,
    list[int],
    Annotated[list[int], Field(min_length=1, max_length=2)],
    set[int],
    tuple[int, str],
    tuple[int, ...],
    dict[str, int],
    decimal.Decimal,
    Customer,
    Cat | Dog,
    Annotated[Cat | Dog, Field(discriminator="kind")],
    Tree,
    Order,
]
POOL: list[Any] = [
    None, True, False, 0, 1, -1, 5, 7, 10, 11, 2.5, 1e20, "", "a", "ab", "abcd", "😀😀",
    "EUR", "1", "1.5", [], [1], [1, 1], [1, "a"], ["a", 1], [1, 2, 3], {}, {"a": 1},
    {"a": "x"}, {"name": ""}, {"name": "Ada"}, {"name": "Ada", "extra": 1},
    {"kind": "cat", "lives": 3}, {"kind": "cat", "lives": 10}, {"kind": "dog", "good": True},
    {"kind": "dog"}, {"kind": "bird"}, {"name": "t", "children": [{"name": "u"}]},
    {"name": "t", "children": [{"children": []}]},
    {"order_id": "o-1", "customer": {"name": "A"}},
    {"order_id": "o-123", "customer": {"name": "A"}, "items": [{"sku": "ABC-1", "quantity": 2}]},
    {"order_id": "o", "customer": {"name": "A"}, "pet": {"kind": "cat", "lives": 1}},
    {"order_id": "o", "customer": {"name": "A"}, "pet": None},
]  # fmt: skip


@pytest.fixture(scope="module")
def page(
    browser: Any, built_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Page]:
    """A page of a served dashboard (loopback, no token) that imported validate.js."""
    tmp = tmp_path_factory.mktemp("validator")
    with dashboard(built_project, f"sqlite:///{tmp / 'jobs.db'}", tmp / "log", token=None) as base:
        context = browser.new_context(base_url=base)
        tab = context.new_page()
        tab.goto("/")
        tab.evaluate("async () => { window.v = await import('/static/validate.js'); }")
        yield tab
        context.close()


def js_validate(page: Page, cases: list[tuple[Any, Any]]) -> list[list[dict[str, Any]]]:
    script = "(cases) => cases.map(([s, v]) => window.v.validate(s, v))"
    result: list[list[dict[str, Any]]] = page.evaluate(script, [list(c) for c in cases])
    return result


def test_the_page_agrees_with_jsonschema_on_every_probe(page: Page) -> None:
    cases = [(TypeAdapter(t).json_schema(), value) for t in TYPES for value in POOL]
    verdicts = js_validate(page, cases)
    disagreements = []
    for (schema, value), errors in zip(cases, verdicts, strict=True):
        expected = jsonschema.Draft202012Validator(schema).is_valid(value)
        if expected != (errors == []):
            disagreements.append((schema.get("title") or schema, value, errors))
    assert len(cases) > 1000
    assert disagreements == []


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"order_id": "o", "customer": {}}, ["customer", "name"], "required"),
        ({"order_id": "o", "customer": {"name": ""}}, ["customer", "name"], "must not be empty"),
        ({"order_id": "toolong", "customer": {"name": "A"}}, ["order_id"], "at most 5"),
        (
            {"order_id": "o", "customer": {"name": "A"}, "items": [{"sku": "x", "quantity": 1}]},
            ["items", 0, "sku"],
            "must match",
        ),
        (
            {"order_id": "o", "customer": {"name": "A"}, "pet": {"kind": "cat", "lives": 12}},
            ["pet", "lives"],
            "at most 9",
        ),
        (
            {"order_id": "o", "customer": {"name": "A"}, "pet": {"kind": "fish"}},
            ["pet", "kind"],
            "must be one of: cat, dog",
        ),
        ({"order_id": 5, "customer": {"name": "A", "x": 1}}, ["order_id"], "must be a string"),
        ({"order_id": "o", "customer": {"name": "A", "x": 1}}, ["customer", "x"], "not a field"),
    ],
)
def test_each_error_is_at_its_field(page: Page, value: Any, path: list[Any], message: str) -> None:
    (errors,) = js_validate(page, [(TypeAdapter(Order).json_schema(), value)])
    assert any(e["path"] == path and message in e["message"] for e in errors), errors
    with pytest.raises(pydantic.ValidationError) as refused:  # the server says the same place
        TypeAdapter(Order).validate_python(value)
    # pydantic's place may add a union's tag (["pet", "cat", "lives"]), which the form skips,
    # or stop at the union (a wrong tag), where the page is more precise
    places = [list(e["loc"]) for e in refused.value.errors()]
    assert any(follows(path, loc) or path[: len(loc)] == loc for loc in places), places


def follows(path: list[Any], loc: list[Any]) -> bool:
    """``path`` is ``loc`` with some union tags left out."""
    rest = iter(loc)
    return all(any(step == item for item in rest) for step in path)


FORMAT_PROBES: list[tuple[Any, list[str]]] = [
    (dt.date, ["2024-02-29", "2023-02-29", "2024-13-01", "2024-1-1", "31.01.2024"]),
    (
        dt.datetime,
        [
            "2024-01-31T12:00:00Z",
            "2024-01-31T12:00:00+01:00",
            "2024-01-31 12:00",
            "2024-01-31T12:00:00.123456",
            "2024-02-30T12:00:00",
            "yesterday",
        ],
    ),
    (dt.time, ["12:30", "12:30:15.5", "12:30:00Z", "25:00:00x", "noon"]),
    (uuid.UUID, [str(uuid.UUID(int=7)), uuid.UUID(int=7).hex, "not-a-uuid"]),
]


def test_dates_times_and_uuids_the_server_accepts_pass_the_page(page: Page) -> None:
    cases = [(TypeAdapter(t).json_schema(), v) for t, values in FORMAT_PROBES for v in values]
    verdicts = js_validate(page, cases)
    wrong = []
    index = 0
    for t, values in FORMAT_PROBES:
        for value in values:
            errors = verdicts[index]
            index += 1
            try:
                TypeAdapter(t).validate_python(value)
                server_ok = True
            except pydantic.ValidationError:
                server_ok = False
            if server_ok and errors:  # the page must never block what the server takes
                wrong.append((t, value, errors))
            if not server_ok and not errors and value in ("yesterday", "noon", "not-a-uuid"):
                wrong.append((t, value, "passed the page"))
    assert wrong == []
    assert any(verdicts), "some probes must be refused by the page"

"""The add-a-job form built from schemas pydantic emits, driven in the browser: the data it
assembles for nested objects, lists, recursion, unions, tuples, booleans and null."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from dashboard_harness import dashboard
from playwright.sync_api import Locator, Page
from pydantic import BaseModel, Field, TypeAdapter


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Node(BaseModel):
    name: str
    children: list[Node] = []


class Shapes(BaseModel):
    title: str
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    point: tuple[int, str]
    maybe: int | None
    flag: bool
    optional_flag: bool | None = None
    when: dt.date | None = None
    tree: Node | None = None
    size: Literal["S", "M", "L"] = "M"
    count: int | str = 0


SCHEMA = TypeAdapter(Shapes).json_schema()


@pytest.fixture(scope="module")
def served(built_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("form")
    with dashboard(built_project, f"sqlite:///{tmp / 'jobs.db'}", tmp / "log", token=None) as base:
        yield base


@pytest.fixture
def page(browser: Any, served: str) -> Iterator[Page]:
    context = browser.new_context(base_url=served)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto("/")
    tab.evaluate(
        """async (schema) => {
            const { buildForm } = await import('/static/schema-form.js');
            const box = document.createElement('div');
            box.id = 'under-test';
            document.querySelector('main').replaceChildren(box);
            window.form = buildForm(box, schema);
        }""",
        SCHEMA,
    )
    yield tab
    context.close()
    assert errors == []


def at(page: Page, *keys: str | int) -> Locator:
    locator = page.locator("#under-test .field-root")
    for key in keys:
        step = (
            f":scope > .field-children > .field >> nth={key}"
            if isinstance(key, int)
            else f":scope > .field-children > .field[data-key='{key}']"
        )
        locator = locator.locator(step)
    return locator


def own(locator: Locator, what: str = "input, select, textarea, output") -> Locator:
    return locator.locator(", ".join(f":scope > {w.strip()}" for w in what.split(",")))


def read(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = page.evaluate("() => window.form.read()")
    return value


def test_the_form_assembles_the_data_the_schema_describes(page: Page) -> None:
    own(at(page, "title")).fill("shapes")
    own(at(page, "pet")).select_option(label="Dog")
    dog = at(page, "pet").locator(":scope > .field-children > .field")
    assert own(dog.locator("[data-key=kind]")).inner_text() == "dog"
    own(dog.locator("[data-key=good]")).check()
    own(at(page, "point", "0")).fill("3")
    own(at(page, "point", "1")).fill("x")
    own(at(page, "flag")).check()
    own(at(page, "optional_flag")).select_option(label="false")
    own(at(page, "when")).fill("2024-02-29")
    tree = at(page, "tree")
    own(tree, "input.include").check()
    own(at(page, "tree", "name")).fill("root")
    children = at(page, "tree", "children")
    own(children, "input.include").check()
    children.get_by_role("button", name="+ add item").click()
    own(children.locator(":scope > .field-children > .field [data-key=name]")).fill("leaf")
    own(at(page, "count")).select_option(label="string")
    own(at(page, "count").locator(":scope > .field-children > .field")).fill("many")
    got = read(page)
    assert got["problems"] == []
    expected = {
        "title": "shapes",
        "pet": {"kind": "dog", "good": True},
        "point": [3, "x"],
        "maybe": None,  # required and nullable, left empty
        "flag": True,
        "optional_flag": False,
        "when": "2024-02-29",
        "tree": {"name": "root", "children": [{"name": "leaf"}]},
        "count": "many",
    }
    assert got["value"] == expected  # size left empty: its default applies
    assert TypeAdapter(Shapes).validate_python(got["value"]).size == "M"


def test_left_empty_optional_parts_stay_out(page: Page) -> None:
    got = read(page)["value"]
    assert "tree" not in got and "when" not in got and "optional_flag" not in got
    assert got["flag"] is False and got["maybe"] is None


def test_a_number_that_is_not_one_is_a_problem_at_its_field(page: Page) -> None:
    own(at(page, "point", "0")).fill("three")
    got = read(page)
    assert {"path": ["point", 0], "message": "must be an integer"} in got["problems"]
    show = (
        "() => window.form.read().problems.forEach((p) => window.form.showError(p.path, p.message))"
    )
    page.evaluate(show)
    assert own(at(page, "point", "0"), "p.field-error").inner_text() == "must be an integer"


def test_removing_a_list_item_keeps_errors_at_the_right_item(page: Page) -> None:
    tree = at(page, "tree")
    own(tree, "input.include").check()
    children = at(page, "tree", "children")
    own(children, "input.include").check()
    for name in ("a", "b", "c"):
        children.get_by_role("button", name="+ add item").click()
        own(
            children.locator(":scope > .field-children > .field").last.locator("[data-key=name]")
        ).fill(name)
    children.locator(":scope > .field-children > .field").first.get_by_role(
        "button", name="remove"
    ).first.click()
    value = read(page)["value"]["tree"]["children"]
    assert [c["name"] for c in value] == ["b", "c"]
    page.evaluate("() => window.form.showError(['tree', 'children', 1, 'name'], 'taken')")
    second = children.locator(":scope > .field-children > .field").nth(1)
    assert own(second.locator("[data-key=name]"), "p.field-error").inner_text() == "taken"
    assert own(second.locator("[data-key=name]")).input_value() == "c"

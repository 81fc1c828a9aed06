"""The dashboard in a real browser (Debian's chromium through Playwright) against a served
`qgen dashboard` and the project's generated worker in its own process, on SQLite, PostgreSQL
and Redis."""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dashboard_harness import TOKEN, dashboard, stored_jobs, worker
from playwright.sync_api import Page, expect

DONE = 60_000  # ms: generous, the machine is shared; nothing here depends on speed


@dataclass(frozen=True)
class Served:
    backend: str
    url: str
    base: str


@pytest.fixture(scope="module", params=["sqlite", "postgres", "redis"])
def served(
    request: pytest.FixtureRequest, built_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"browser-{backend}")
    provider = importlib.import_module(f"support.{backend}")
    with (
        provider.backend_url(tmp) as url,
        worker(built_project, backend, url, tmp / "worker.log"),
        dashboard(built_project, url, tmp / "dashboard.log") as base,
    ):
        yield Served(backend, url, base)


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Page]:
    """A logged-in page; fails the test on any script error or dialog (alert) it saw."""
    context = browser.new_context(base_url=served.base, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    trouble: list[str] = []
    tab.on("pageerror", lambda exc: trouble.append(f"script error: {exc}"))

    def on_dialog(dialog: Any) -> None:
        trouble.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.goto("/login")
    tab.fill("#token", TOKEN)
    with tab.expect_navigation():
        tab.get_by_role("button", name="Log in").click()
    expect(tab.get_by_role("heading", name="Queues")).to_be_visible()
    yield tab
    context.close()
    assert trouble == []


def field(page: Page, *keys: str) -> Any:
    """The form field at a path of property names (``customer``, ``name``)."""
    locator = page.locator("#add-job .field-root")
    for key in keys:
        locator = locator.locator(f":scope > .field-children > .field[data-key='{key}']")
    return locator


def control(page: Page, *keys: str) -> Any:
    return field(page, *keys).locator(":scope > input, :scope > select, :scope > textarea")


def error_of(locator: Any) -> Any:
    return locator.locator(":scope > .field-error")


def fill_order(page: Page, order_id: str, amount: str, name: str = "Ada") -> None:
    page.goto("/queues/orders")
    control(page, "order_id").fill(order_id)
    control(page, "amount").fill(amount)
    control(page, "customer", "name").fill(name)


def add_item(page: Page, sku: str, quantity: str) -> None:
    items = field(page, "items")
    if not items.locator(":scope > input.include").is_checked():
        items.locator(":scope > input.include").check()
    items.get_by_role("button", name="+ add item").click()
    item = items.locator(":scope > .field-children > .field").last
    item.locator(".field[data-key='sku'] > input").fill(sku)
    item.locator(".field[data-key='quantity'] > input").fill(quantity)


def submit(page: Page) -> None:
    page.locator("#add-job").get_by_role("button", name="Add job").click()


def test_a_job_added_through_the_form_is_processed_and_shows_its_result(
    page: Page, served: Served
) -> None:
    order_id = f"b-{uuid.uuid4().hex[:8]}"
    fill_order(page, order_id, "250")
    control(page, "currency").select_option(label="USD")
    add_item(page, "ABC-1", "2")
    add_item(page, "XYZ-22", "1")
    submit(page)
    page.wait_for_url("**/queues/orders/job?id=*")
    status = page.locator("#job-detail .status").first
    expect(status).to_have_text("completed", timeout=DONE)  # the page updates itself
    result = page.locator("#job-result")
    expect(result.locator("dt", has_text="Total")).to_contain_text("Amount times the number")
    expect(result.locator("dd[data-field=total]")).to_have_text("750")  # 250 x (2 + 1)
    data = page.locator("#job-data")
    expect(data).to_contain_text(order_id)
    expect(data).to_contain_text("USD")
    expect(data).to_contain_text("XYZ-22")


def test_a_wrong_value_shows_at_its_field_and_nothing_is_sent(page: Page, served: Served) -> None:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    before = stored_jobs(served.url, "orders")
    fill_order(page, "bad-1", "-5", name="")
    add_item(page, "bad", "0")
    submit(page)
    expect(error_of(field(page, "amount"))).to_have_text("must be greater than 0")
    expect(error_of(field(page, "customer", "name"))).to_have_text("must not be empty")
    item = field(page, "items").locator(":scope > .field-children > .field").first
    expect(item.locator(".field[data-key='sku'] > .field-error")).to_contain_text("must match")
    expect(item.locator(".field[data-key='quantity'] > .field-error")).to_have_text(
        "must be at least 1"
    )
    expect(control(page, "amount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".form-error")).to_contain_text("Nothing was sent")
    control(page, "amount").fill("abc")
    submit(page)
    expect(error_of(field(page, "amount"))).to_have_text("must be an integer")
    assert posts == []
    assert stored_jobs(served.url, "orders") == before


def test_a_value_only_the_server_refuses_shows_at_its_field(page: Page, served: Served) -> None:
    """The page's check knows the schema, not the JSON rule (no NUL characters): the server's
    refusal comes back as a field error, and nothing is stored."""
    answers: list[int] = []
    page.on("response", lambda r: answers.append(r.status) if r.request.method == "POST" else None)
    before = stored_jobs(served.url, "orders")
    fill_order(page, "nul-1", "5")
    control(page, "labels").fill('{"a": "x\\u0000y"}')
    submit(page)
    expect(error_of(field(page, "labels"))).to_contain_text("a: ")
    expect(error_of(field(page, "labels"))).to_contain_text("NUL")
    assert answers == [422]
    assert stored_jobs(served.url, "orders") == before


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def test_markup_in_a_job_is_shown_as_text_and_never_runs(page: Page, served: Served) -> None:
    fill_order(page, f"x-{uuid.uuid4().hex[:8]}", "5", name=HOSTILE)
    control(page, "note").fill(HOSTILE)
    control(page, "labels").fill(json.dumps({HOSTILE: HOSTILE}))
    submit(page)
    page.wait_for_url("**/queues/orders/job?id=*")
    expect(page.locator("#job-detail .status").first).to_have_text("completed", timeout=DONE)
    expect(page.locator("#job-result")).to_contain_text(HOSTILE)  # the note, echoed back
    data = page.locator("#job-data")
    expect(data.get_by_text(HOSTILE, exact=True)).to_have_count(4)  # name, note, label key+value
    assert page.locator("#job-detail img, #job-detail script").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_failed_job_shows_its_error_and_traceback_as_text(page: Page, served: Served) -> None:
    fill_order(page, f"f-{uuid.uuid4().hex[:8]}", "13")
    submit(page)
    page.wait_for_url("**/queues/orders/job?id=*")
    expect(page.locator("#job-detail .status").first).to_have_text("failed", timeout=DONE)
    expect(page.locator(".error-type")).to_have_text("DeclinedError")
    expect(page.locator(".error-message")).to_have_text("<img src=x onerror=alert(13)> declined")
    expect(page.locator(".traceback")).to_contain_text("DeclinedError")
    assert page.locator("#job-detail img").count() == 0


def test_without_the_token_the_app_answers_401(browser: Any, served: Served) -> None:
    context = browser.new_context(base_url=served.base)
    try:
        tab = context.new_page()
        answer = tab.goto("/queues/orders")
        assert answer is not None and answer.status == 401
        expect(tab.locator("#token")).to_be_visible()
        expect(tab.locator("body")).not_to_contain_text("take_order")
        assert context.request.get("/api/queues").status == 401
        tab.fill("#token", TOKEN)
        with tab.expect_navigation():
            tab.get_by_role("button", name="Log in").click()
        expect(tab.get_by_role("heading", name="orders")).to_be_visible()  # back where it was
    finally:
        context.close()


def test_an_action_without_the_csrf_token_is_refused(page: Page, served: Served) -> None:
    before = stored_jobs(served.url, "orders")
    script = """async (withToken) => {
        const headers = {"content-type": "application/json"};
        if (withToken) headers["x-csrf-token"] = document.body.dataset.csrf;
        const body = JSON.stringify({data: {order_id: "c-1", amount: 1, customer: {name: "A"}}});
        const r = await fetch("/queues/orders/jobs", {method: "POST", headers, body});
        return r.status;
    }"""
    assert page.evaluate(script, False) == 403
    assert stored_jobs(served.url, "orders") == before
    assert page.evaluate(script, True) == 201
    assert stored_jobs(served.url, "orders") == before + 1


def test_on_sqs_the_form_says_the_job_was_added(
    browser: Any, built_project: Path, tmp_path: Path
) -> None:
    """SQS keeps no status: the page stays and names the job it added."""
    from support import sqs

    with sqs.backend_url(tmp_path) as url, dashboard(built_project, url, tmp_path / "log") as base:
        context = browser.new_context(base_url=base)
        try:
            tab = context.new_page()
            tab.goto("/login")
            tab.fill("#token", TOKEN)
            with tab.expect_navigation():
                tab.get_by_role("button", name="Log in").click()
            fill_order(tab, "q-1", "5")
            submit(tab)
            expect(tab.locator("#add-job .added")).to_contain_text("Added job ")
            expect(tab.locator("#add-job .added")).to_contain_text("keeps no job status")
            assert tab.url.endswith("/queues/orders")
        finally:
            context.close()

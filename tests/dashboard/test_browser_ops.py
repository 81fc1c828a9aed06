"""Operating the queues in a real browser (Debian's chromium through Playwright) against a
served `qgen dashboard` and the project's worker in its own process: the queue list shows
the API's counts, retry of a failed job, cancel, pause and resume, and markup in a job's
data shown as text in the job list, 401 without the token. PostgreSQL, SQLite and Redis (a
backend whose operator API is not implemented yet: strict xfail, tests/support/ops_pending.py)."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dashboard_harness import TOKEN, Api, dashboard, outward_address, wait_for, worker
from playwright.sync_api import Page, expect
from support.ops_pending import pending_on

from qgen.runtime.capabilities import Feature

DONE = 60_000  # ms: generous, the machine is shared; nothing here depends on speed
HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@dataclass(frozen=True)
class Served:
    backend: str
    base: str
    api: Api


@pytest.fixture(scope="module", params=["postgres", "sqlite", "redis"])
def served(
    request: pytest.FixtureRequest,
    built_project: Path,
    manifest: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"browser-ops-{backend}")
    provider = importlib.import_module(f"support.{backend}")
    with (
        provider.backend_url(tmp) as url,
        worker(built_project, backend, url, tmp / "worker.log"),
        dashboard(built_project, url, tmp / "dashboard.log") as base,
    ):
        yield Served(backend, base, Api(manifest, url))


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
    yield tab
    context.close()
    assert trouble == []


def order(order_id: str, amount: int = 5, **more: Any) -> dict[str, Any]:
    return {"order_id": order_id, "amount": amount, "customer": {"name": "Ada"}, **more}


def settled(served: Served, queue: str, job_id: str, status: str) -> None:
    wait_for(lambda: served.api.status(queue, job_id), lambda s: s == status, f"{job_id} {status}")


def test_the_queue_list_shows_the_apis_counts(
    page: Page, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.COUNTS)
    done = served.api.add("echo", "counted")
    served.api.add("echo", "later", delay=3600)
    settled(served, "echo", done, "completed")
    counts = served.api.counts("echo")
    page.goto("/")
    row = page.locator("tr[data-queue=echo]")
    for status in ("waiting", "delayed", "active", "completed", "failed", "cancelled"):
        expect(row.locator(f"[data-count={status}]")).to_have_text(str(counts[status]))
    page.goto("/queues/echo")
    expect(page.locator("#queue-state [data-count=delayed] .n")).to_have_text(
        str(counts["delayed"])
    )


def test_retry_of_a_failed_job(page: Page, served: Served, request: pytest.FixtureRequest) -> None:
    pending_on(served.backend, request, Feature.RETRY, Feature.STATUS)
    job_id = served.api.add("orders", order(f"r-{uuid.uuid4().hex[:8]}", amount=17))
    page.goto(f"/queues/orders/job?id={job_id}")
    status = page.locator("#job-detail .status").first
    expect(status).to_have_text("failed", timeout=DONE)
    expect(page.locator(".error-type")).to_have_text("FlakyError")
    with page.expect_navigation():
        page.get_by_role("button", name="retry").click()
    expect(page.locator(".flash")).to_have_text(f"Job {job_id} will run again.")
    expect(status).to_have_text("completed", timeout=DONE)  # it fails the first time only
    expect(page.locator("#job-result dd[data-field=total]")).to_have_text("17")
    expect(page.get_by_role("button", name="retry")).to_have_count(0)


def test_cancel(page: Page, served: Served, request: pytest.FixtureRequest) -> None:
    pending_on(served.backend, request, Feature.CANCEL, Feature.STATUS)
    job_id = served.api.add("orders", order(f"c-{uuid.uuid4().hex[:8]}"), delay=3600)
    page.goto(f"/queues/orders/job?id={job_id}")
    expect(page.locator("#job-detail .status").first).to_have_text("delayed")
    with page.expect_navigation():
        page.get_by_role("button", name="cancel").click()
    expect(page.locator(".flash")).to_contain_text("is cancelled")
    expect(page.locator("#job-detail .status").first).to_have_text("cancelled")
    expect(page.get_by_role("button", name="cancel")).to_have_count(0)
    assert served.api.status("orders", job_id) == "cancelled"


def test_pause_and_resume(page: Page, served: Served, request: pytest.FixtureRequest) -> None:
    pending_on(served.backend, request, Feature.PAUSE, Feature.COUNTS, Feature.STATUS)
    page.goto("/queues/echo")
    state = page.locator("#queue-state")
    with page.expect_navigation():
        state.get_by_role("button", name="pause").click()
    expect(page.locator(".flash")).to_contain_text("Paused echo")
    expect(state.locator(".paused")).to_have_text("paused")
    try:
        held = served.api.add("echo", "held")
        other = served.api.add("orders", order(f"p-{uuid.uuid4().hex[:8]}"))
        settled(served, "orders", other, "completed")  # the worker is taking jobs meanwhile
        assert served.api.status("echo", held) == "waiting"
        page.goto("/")
        expect(page.locator("tr[data-queue=echo] .paused")).to_have_text("paused")
        page.goto("/queues/echo")
    finally:
        with page.expect_navigation():
            state.get_by_role("button", name="resume").click()
    expect(page.locator(".flash")).to_have_text("Resumed echo.")
    expect(state.locator(".paused")).to_have_count(0)
    settled(served, "echo", held, "completed")


def test_markup_in_the_job_list_is_text(
    page: Page, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.LIST_JOBS)
    job_id = served.api.add("orders", order(f"h-{uuid.uuid4().hex[:8]}", note=HOSTILE), delay=600)
    page.goto("/queues/orders?status=delayed")
    cell = page.locator(f"tr[data-job='{job_id}'] td.data")
    expect(cell).to_contain_text("<script>window.__pwned = 1</script>")
    assert page.locator("#jobs script, #jobs img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_a_non_loopback_app_answers_401_without_the_token(
    browser: Any,
    served: Served,
    built_project: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """`qgen dashboard --host <this machine's address> --token ...`, reached from the browser
    at that address (not loopback): every page and the API answer 401 until the login."""
    pending_on(served.backend, request, Feature.COUNTS)
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    url = served.api.url
    with dashboard(built_project, url, tmp_path / "outward.log", host=address) as base:
        assert not base.startswith("http://127.")
        context = browser.new_context(base_url=base)
        try:
            tab = context.new_page()
            answer = tab.goto("/")
            assert answer is not None and answer.status == 401
            expect(tab.locator("#token")).to_be_visible()
            expect(tab.locator("body")).not_to_contain_text("echo")
            assert context.request.get("/api/queues").status == 401
            assert context.request.get("/queues/echo/parts/state").status == 401
            tab.fill("#token", TOKEN)
            with tab.expect_navigation():
                tab.get_by_role("button", name="Log in").click()
            expect(tab.locator("tr[data-queue=echo] [data-count=waiting]")).to_have_text(
                str(served.api.counts("echo")["waiting"])
            )
        finally:
            context.close()

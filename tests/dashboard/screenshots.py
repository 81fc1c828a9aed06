"""Screenshots of the dashboard's main pages for docs/ (not a test; run by hand):

    .venv/bin/python tests/dashboard/screenshots.py

Copies examples/shop to a temporary folder, runs its SQLite worker and `qgen dashboard`
there, adds jobs through the page and saves docs/dashboard-*.png. File paths in the shown
traceback are shortened to the package (the pictures hold no machine paths)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dashboard_harness as harness  # noqa: E402

ROOT = HERE.parent.parent
DOCS = ROOT / "docs"
URL = "sqlite:///jobs.db"  # relative to the project folder: no machine path on the pictures
WAIT = 60_000
SHORTEN_PATHS = r"""() => {
    for (const pre of document.querySelectorAll(".traceback")) {
        pre.textContent = pre.textContent.replace(/"[^"]*\/(qgen|shop)\//g, '"…/$1/');
    }
}"""


def wait_finished(page: Page) -> None:
    page.wait_for_url("**/job?id=*")
    page.wait_for_function(
        "() => document.getElementById('job-detail').dataset.finished === '1'", timeout=WAIT
    )


def shoot(page: Page, name: str, full: bool = True) -> None:
    page.screenshot(path=DOCS / f"dashboard-{name}.png", full_page=full)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "shop"
        shutil.copytree(ROOT / "examples" / "shop", project, ignore=shutil.ignore_patterns(".qgen"))
        logs = Path(tmp)
        with (
            harness.worker(project, "sqlite", URL, logs / "worker.log", "shop.generated"),
            harness.dashboard(project, URL, logs / "dashboard.log") as base,
            sync_playwright() as p,
        ):
            browser = p.chromium.launch(
                executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS
            )
            context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 760})
            page = context.new_page()
            page.goto("/login")
            page.fill("#token", harness.TOKEN)
            with page.expect_navigation():
                page.get_by_role("button", name="Log in").click()
            shoot(page, "queues")

            page.goto("/queues/reports")
            form = page.locator("#add-job .field-root > .field-children")
            form.locator(":scope > [data-key=month] > input").fill("2026-11-01")
            sections = form.locator(":scope > [data-key=sections]")
            for name in ("sales", "returns"):
                sections.get_by_role("button", name="+ add item").click()
                sections.locator(":scope > .field-children > .field").last.locator("input").fill(
                    name
                )
            page.get_by_role("button", name="Add job").click()
            wait_finished(page)
            shoot(page, "job")

            page.goto("/queues/payments")
            form = page.locator("#add-job .field-root > .field-children")
            form.locator(":scope > [data-key=order_id] > input").fill("order-1002")
            form.locator(":scope > [data-key=amount] > input").fill("250000")
            page.get_by_role("button", name="Add job").click()
            wait_finished(page)
            page.evaluate(SHORTEN_PATHS)
            shoot(page, "failed-job")

            page.goto("/queues/payments")
            form = page.locator("#add-job .field-root > .field-children")
            form.locator(":scope > [data-key=order_id] > input").fill("order-1003")
            form.locator(":scope > [data-key=amount] > input").fill("0")
            page.get_by_role("button", name="Add job").click()
            expect(page.locator(".field-error:not([hidden])").first).to_be_visible()
            shoot(page, "add-job")
            browser.close()
    print("wrote", ", ".join(sorted(p.name for p in DOCS.glob("dashboard-*.png"))))


if __name__ == "__main__":
    main()

"""Screenshots of the dashboard's main pages for docs/ (not a test; run by hand):

    .venv/bin/python tests/dashboard/screenshots.py

Copies examples/shop to a temporary folder, runs its PostgreSQL worker and `qgen dashboard`
there (a schema of its own on the local server, dropped afterwards), adds jobs through the
generated client and the page, and saves docs/dashboard-*.png. File paths in the shown
traceback are shortened to the package (the pictures hold no machine paths), and the URL the
header shows has no user or password: they reach libpq as PGUSER / PGPASSWORD instead."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from playwright.sync_api import Page, expect, sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import dashboard_harness as harness  # noqa: E402

sys.path.insert(0, str(HERE.parent))
from support.postgres import SERVER, schema_url  # noqa: E402

ROOT = HERE.parent.parent
DOCS = ROOT / "docs"
SCHEMA = "qgen_dashboard_screenshots"


def without_credentials(server: str) -> str:
    """``server`` without its user and password, handed to libpq (and so to the worker and
    the dashboard, which inherit the environment) as PGUSER / PGPASSWORD: every page shows
    the URL, and the dashboard masks only the password."""
    parts = urlsplit(server)
    if parts.username:
        os.environ["PGUSER"] = unquote(parts.username)
    if parts.password:
        os.environ["PGPASSWORD"] = unquote(parts.password)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


URL = schema_url(SCHEMA, without_credentials(SERVER))
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


def drop_schema() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))


def traffic(project: Path) -> None:
    """Jobs for the pictures: welcome emails over a few seconds (the throughput chart),
    declined and flaky payments (failed jobs, dead letters), delayed emails."""
    sys.path.insert(0, str(project))
    from shop.generated.client import AsyncQueueClient

    from qgen.runtime.backends.base import AddOptions

    async def run() -> None:
        client: Any = AsyncQueueClient(URL)
        try:
            for burst in range(8):
                emails = [
                    {"user_id": i + 1, "email": f"user{i}@example.com", "name": f"User {i}"}
                    for i in range(burst * 40, burst * 40 + 25 + 10 * burst)
                ]
                await client.emails.add_many(emails)
                await asyncio.sleep(6)
            await client.emails.add_many(emails[:7], delay=3600)
            for i, amount in enumerate([1200, 350000, 4990, 250000, 780, 990000]):
                order = {"order_id": f"order-{1001 + i}", "amount": amount}
                await client.payments.add(order, job_id=f"order-{1001 + i}")
            backend = await client._connect()  # as an older producer left it: amount as text
            stale = {"order_id": "order-0999", "amount": "12.50 EUR"}
            await backend.enqueue("payments", stale, AddOptions(job_id="order-0999"))
        finally:
            await client.close()

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API runs a loop in this thread
        pool.submit(asyncio.run, run()).result()


def main() -> None:
    drop_schema()
    try:
        shoot_all()
    finally:
        drop_schema()


def shoot_all() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "shop"
        shutil.copytree(ROOT / "examples" / "shop", project, ignore=shutil.ignore_patterns(".qgen"))
        logs = Path(tmp)
        with (
            harness.worker(project, "postgres", URL, logs / "worker.log", "shop.generated"),
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
            traffic(project)
            time.sleep(3)  # the failed payments reach their dead-letter queue
            page.goto("/")
            page.wait_for_timeout(500)
            shoot(page, "queues")

            page.goto("/queues/payments?status=failed")
            shoot(page, "queue", full=False)

            page.goto("/queues/payments/redrive")
            shoot(page, "redrive")

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

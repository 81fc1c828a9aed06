"""The live parts in the browser, on PostgreSQL with the project's worker: the queue list's
counts and throughput chart, and a queue's paused state, change without a reload when jobs
run or another client pauses the queue."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from dashboard_harness import Api, free_port, worker
from playwright.sync_api import expect
from support import postgres

from qgen.dashboard import create_app

WAIT = 30_000  # ms: the page polls every 2 s; generous for a shared machine


@pytest.fixture
def served(built_project: Path, manifest: Path, tmp_path: Path) -> Iterator[tuple[str, Api]]:
    with (
        postgres.backend_url(tmp_path) as url,
        worker(built_project, "postgres", url, tmp_path / "worker.log"),
    ):
        app = create_app(manifest=manifest, url=url)
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}", Api(manifest, url)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def test_counts_and_throughput_update_in_place(browser: Any, served: tuple[str, Api]) -> None:
    base, api = served
    context = browser.new_context(base_url=base)
    try:
        tab = context.new_page()
        tab.goto("/")
        row = tab.locator("tr[data-queue=echo]")
        expect(row.locator("[data-count=completed]")).to_have_text("0")
        tab.evaluate("window.__sameDocument = true")
        for word in ("a", "b", "c"):
            api.add("echo", word)
        expect(row.locator("[data-count=completed]")).to_have_text("3", timeout=WAIT)
        expect(row.locator("svg.chart rect.bar").first).to_be_visible()
        expect(row.locator(".rate")).to_contain_text("/s")
        assert tab.evaluate("window.__sameDocument") is True  # no reload happened
    finally:
        context.close()


def test_a_pause_from_elsewhere_shows_without_a_reload(
    browser: Any, served: tuple[str, Api]
) -> None:
    base, api = served
    context = browser.new_context(base_url=base)
    try:
        tab = context.new_page()
        tab.goto("/queues/echo")
        state = tab.locator("#queue-state")
        expect(state.get_by_role("button", name="pause")).to_be_visible()
        tab.evaluate("window.__sameDocument = true")

        async def pause(client: Any) -> None:
            await client.queue("echo").pause()

        api.run(pause)
        expect(state.locator(".paused")).to_have_text("paused", timeout=WAIT)
        expect(state.get_by_role("button", name="resume")).to_be_visible()
        assert tab.evaluate("window.__sameDocument") is True
    finally:
        context.close()

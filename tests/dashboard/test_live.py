"""The page script's live parts for the operator API (issue 14), in the browser: with a client
that has counts(), the queue list updates its numbers without reloading and draws the
throughput line. (A stand-in client: the real counts() does not exist yet.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from dashboard_harness import free_port
from playwright.sync_api import expect

from qgen.dashboard import create_app
from qgen.dashboard.project import client_class
from qgen.runtime.client import AsyncQueue
from qgen.runtime.manifest import load_manifest


@dataclass(frozen=True)
class Counts:
    waiting: int
    delayed: int
    active: int
    completed: int
    failed: int
    discarded: int = 0
    cancelled: int = 0
    paused: bool = False


@pytest.fixture
def served(manifest: Path, tmp_path: Path) -> Iterator[str]:
    polls = {"n": 0}

    class CountingQueue(AsyncQueue[Any, Any]):
        async def counts(self) -> Counts:
            polls["n"] += 1
            n = polls["n"]
            return Counts(waiting=100 - n, delayed=0, active=2, completed=10 * n, failed=n)

    base = client_class(load_manifest(manifest))

    class CountingClient(base):  # type: ignore[misc,valid-type]
        def queue(self, name: str) -> AsyncQueue[Any, Any]:
            return CountingQueue(self, self._meta(name))

    app = create_app(CountingClient(f"sqlite:///{tmp_path / 'jobs.db'}"))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_counts_update_in_place_and_draw_the_throughput(browser: Any, served: str) -> None:
    context = browser.new_context(base_url=served)
    try:
        tab = context.new_page()
        tab.goto("/")
        row = tab.locator("tr[data-queue=orders]")
        first = int(row.locator("[data-count=completed]").inner_text())
        tab.evaluate("window.__sameDocument = true")
        # the page polls every 2 s: the number grows without a reload, then a line appears
        expect(row.locator("[data-count=completed]")).not_to_have_text(str(first), timeout=15000)
        expect(row.locator("svg[data-chart] polyline")).to_have_count(1, timeout=15000)
        expect(row.locator("svg[data-chart] text")).to_contain_text("/s")
        assert tab.evaluate("window.__sameDocument") is True  # no reload happened
    finally:
        context.close()

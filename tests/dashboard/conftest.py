"""Fixtures of the dashboard tests: the test project built once per session, an in-process
app for HTTP-level checks, and Debian's chromium driven by Playwright for the browser tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import dashboard_harness as harness  # noqa: E402


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.build_project(tmp_path_factory.mktemp("dashboard") / "project")


@pytest.fixture(scope="session")
def manifest(built_project: Path) -> Path:
    return built_project / "dashapp" / "generated" / "manifest.json"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the session: while Playwright's sync API is open
    the main thread counts as running an event loop, which breaks later asyncio tests."""
    harness.require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=harness.CHROMIUM, args=harness.CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()

"""Fixture for the scanner tests: write a small project to tmp_path and scan it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from scan_helpers import Files, scan, write

from qgen.codegen.scan import ScanResult


@pytest.fixture
def project(tmp_path: Path) -> Callable[[Files], ScanResult]:
    """Write ``files`` (plus an empty shop/__init__.py) and scan them."""

    def make(files: Files) -> ScanResult:
        write(tmp_path, {"shop/__init__.py": "", **files})
        return scan(tmp_path)

    return make

"""Skips for a missing test dependency (node, a backend module, a local server), which CI turns
into failures: ``scripts/test.sh`` sets ``QGEN_REQUIRE_ALL=1``, so a green CI run never hides a
suite that silently did not run. A case a backend cannot support is not a missing dependency:
it is skipped by reading the capability table, with or without this switch."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def required() -> bool:
    return os.environ.get("QGEN_REQUIRE_ALL", "") not in ("", "0")


def missing(what: str) -> NoReturn:
    """Skip (locally) or fail (under QGEN_REQUIRE_ALL=1) because ``what`` is missing."""
    if required():
        pytest.fail(f"{what} (QGEN_REQUIRE_ALL=1: a missing test dependency fails the run)")
    pytest.skip(what)

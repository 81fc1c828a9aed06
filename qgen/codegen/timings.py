"""Per-phase timings of the last build (``qgen build --timings``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

TIMINGS: dict[str, float] = {}  # phase -> seconds


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        TIMINGS[name] = TIMINGS.get(name, 0.0) + time.perf_counter() - start

"""Pausing Python's cyclic garbage collector while a build allocates.

Parsing and summarizing a thousand modules creates millions of small objects; the collector
then runs again and again over objects that all stay alive (measured here: summarizing 1,000
modules 15-35 % faster with it paused, unpickling their summaries five times faster). A build is
short and its data holds few reference cycles, so the collector is paused for the scan and the
rendering and resumes afterwards.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

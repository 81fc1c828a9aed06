"""The schema lock: ``qgen.lock.json`` records every queue's schemas and a version; ``qgen check``
refuses changes that would break jobs already queued or callers already deployed; ``qgen lock``
accepts them. The rules are in docs/schema-lock.md.

This module stays light (the build imports it to hash the lock on every run); the comparison,
the file format and the commands live in the submodules.
"""

from __future__ import annotations

from pathlib import Path

LOCK_FILE = "qgen.lock.json"


def lock_bytes(root: Path) -> bytes:
    """The lock's bytes for the build's inputs hash (manifest.json summarizes the lock), or
    nothing when the project has no lock."""
    try:
        return f"{LOCK_FILE}\0".encode() + (root / LOCK_FILE).read_bytes()
    except OSError:
        return b""

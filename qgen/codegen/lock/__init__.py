"""The schema lock: ``qgen.lock.json`` records every queue's schemas and a version; ``qgen check``
refuses changes that would break jobs already queued or callers already deployed; ``qgen lock``
accepts them. The rules are in docs/schema-lock.md.

This module stays light (the build calls it on every run); the comparison, the file format and
the commands live in the submodules, imported only for projects that have a lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qgen.codegen.ir import ProjectSpec
    from qgen.config import Config

LOCK_FILE = "qgen.lock.json"


def lock_bytes(root: Path) -> bytes:
    """The lock's bytes for the warm-build key (manifest.json summarizes the lock), or nothing
    when the project has no lock."""
    try:
        return f"{LOCK_FILE}\0".encode() + (root / LOCK_FILE).read_bytes()
    except OSError:
        return b""


def add_lock_summary(config: Config, project: ProjectSpec, tree: dict[str, bytes]) -> None:
    """Build hook: the lock's summary for workers into the rendered manifest.json."""
    if (config.root / LOCK_FILE).is_file():
        from qgen.codegen.lock.manifest import with_schema_lock

        with_schema_lock(config, project, tree)

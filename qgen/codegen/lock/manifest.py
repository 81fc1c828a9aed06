"""The ``schema_lock`` section of manifest.json, read by workers (qgen.runtime.schema_changes).

Only projects with a ``qgen.lock.json`` get the section, so other projects' output does not
change. A lock that cannot be read adds nothing here; ``qgen check`` reports it (QG400).
"""

from __future__ import annotations

import json
from typing import Any

from qgen.codegen.ir import ProjectSpec
from qgen.codegen.lock.report import compare_queue
from qgen.codegen.lock.store import LockError, LockFile, read_lock
from qgen.config import Config
from qgen.runtime.schema_changes import SECTION

MANIFEST = "manifest.json"
MAX_CHANGES = 50  # per queue, newest first


def summary(lock: LockFile, project: ProjectSpec) -> dict[str, Any]:
    """Per queue: the latest locked version and the input changes that break old jobs, newest
    first (the build's own, not yet locked, before the recorded history)."""
    out: dict[str, Any] = {}
    for spec in project.queues:
        entry = lock.queues.get(spec.name)
        if entry is None:
            out[spec.name] = {"locked": None, "breaking": []}
            continue
        pending = [
            {"version": None, "field": list(c.change.at.path), "message": c.change.describe()}
            for c in compare_queue(entry, spec)
            if c.side == "input" and c.breaking
        ]
        recorded = [
            {"version": h.version, "field": list(r.field), "message": r.message}
            for h in reversed(entry.history)
            for r in h.changes
            if r.direction == "input" and r.breaking
        ]
        out[spec.name] = {
            "locked": entry.version,
            "breaking": (pending + recorded)[:MAX_CHANGES],
        }
    return out


def with_schema_lock(config: Config, project: ProjectSpec, tree: dict[str, bytes]) -> None:
    """Add the section to the rendered manifest in ``tree`` (in place)."""
    try:
        lock = read_lock(config.root)
    except LockError:
        return
    if lock is None or MANIFEST not in tree:
        return
    from qgen.codegen.render import _json

    data = json.loads(tree[MANIFEST])
    data[SECTION] = summary(lock, project)
    tree[MANIFEST] = _json(data).encode("utf-8")

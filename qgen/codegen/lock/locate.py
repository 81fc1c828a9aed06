"""Where a schema change is in the source: the field's line in its class, the class of a changed
definition, the ``data`` annotation (or return annotation) for a change at the root, or the
queue's entry in qgen.lock.json for a queue that is gone.

The IR keeps only schemas, so the locator reads the scanner's per-file summaries again (from
the scan cache: nothing is parsed twice) and regenerates each needed root schema with a
SchemaBuilder that remembers which source definition every ``$defs`` name came from. It runs
only when there are changes to show.
"""

from __future__ import annotations

from typing import Any

from qgen.codegen.ir import ProjectSpec, QueueSpec, SourceLocation
from qgen.codegen.lock import LOCK_FILE
from qgen.codegen.lock.report import QueueChange
from qgen.codegen.lock.store import queue_line
from qgen.codegen.scan.expr import Expr, pos
from qgen.codegen.scan.files import summaries
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.schema import Schema, SchemaBuilder, _def_names
from qgen.codegen.scan.sources import discover
from qgen.config import Config

_REF = "#/$defs/"
_MAX_BASES = 32


class _Recorder(SchemaBuilder):
    """A SchemaBuilder that keeps, for the last root it built, the definition key (``module.Name``)
    behind every ``$defs`` name and behind an inlined root."""

    def __init__(self, index: Index) -> None:
        super().__init__(index)
        self.keys: dict[str, str] = {}
        self.root_key: str | None = None

    def _finish(self, root: Schema) -> Schema:
        self.keys = {name: key for key, name in _def_names(self._short).items()}
        ref = root.get("$ref") if set(root) == {"$ref"} else None
        self.root_key = ref[len(_REF) :] if isinstance(ref, str) else None
        return super()._finish(root)


class Locator:
    def __init__(self, config: Config, project: ProjectSpec, lock_text: str) -> None:
        self.config = config
        self.queues = {q.name: q for q in project.queues}
        self.lock_text = lock_text
        self._index: Index | None = None
        self._builder: _Recorder | None = None
        self._roots: dict[tuple[str, str], tuple[str | None, dict[str, str], SourceLocation]] = {}

    def locate(self, change: QueueChange) -> SourceLocation:
        spec = self.queues.get(change.queue)
        if spec is None:
            return SourceLocation(LOCK_FILE, *queue_line(self.lock_text, change.queue))
        fallback = spec.function.location or spec.location
        if change.side == "queue":
            return spec.location
        try:
            root_key, keys, root_at = self._root(spec, change.side)
        except (KeyError, IndexError, TypeError, ValueError):
            return fallback
        at = change.change.at
        key = keys.get(at.owner) if at.owner is not None else root_key
        found = self._definition(key, at.field) if key is not None else None
        return found or root_at

    def _root(
        self, spec: QueueSpec, side: str
    ) -> tuple[str | None, dict[str, str], SourceLocation]:
        cached = self._roots.get((spec.name, side))
        if cached is not None:
            return cached
        index, builder = self._scan()
        f = spec.function
        info = index.get_def(("def", f.module, f.name))
        if side == "input":
            ann: Expr = [p for p in info["params"] if p["kind"] in ("posonly", "pos")][1]["ann"]
        else:
            ann = info["ret"]
        builder.root_key, builder.keys = None, {}
        builder.build(ann, f.module)
        line, col = pos(ann)
        found = (builder.root_key, builder.keys, SourceLocation(index.path_of(f.module), line, col))
        self._roots[(spec.name, side)] = found
        return found

    def _scan(self) -> tuple[Index, _Recorder]:
        if self._index is None or self._builder is None:
            c = self.config
            files = discover(c.root, c.sources, c.out_package)
            by_module, _ = summaries(files, c.root / ".qgen" / "cache" / "scan", 1)
            self._index = Index(by_module, tuple(c.sources))
            self._builder = _Recorder(self._index)
        return self._index, self._builder

    def _definition(self, key: str, field: str | None) -> SourceLocation | None:
        """The class (or alias) ``key``, or its ``field`` (searched through its bases)."""
        index, _ = self._scan()
        module, _, name = key.rpartition(".")
        try:
            info = index.get_def(("def", module, name))
        except KeyError:
            return None
        if field is not None:
            found = _field(index, ("def", module, name), field, 0)
            if found is not None:
                return found
        line, col = info["pos"]
        return SourceLocation(index.path_of(module), line, col)


def _field(index: Index, ref: tuple[str, ...], field: str, depth: int) -> SourceLocation | None:
    info = index.get_def(ref)
    if info.get("k") != "class" or depth > _MAX_BASES:
        return None
    for entry in info["body"]:
        if entry["ann"] is not None and field in (entry["name"], *_aliases(entry)):
            line, col = entry["pos"]
            return SourceLocation(index.path_of(ref[1]), line, col)
    for base in info["bases"]:
        target = index.resolve_follow(base, ref[1])
        if target[0] == "def":
            found = _field(index, target, field, depth + 1)
            if found is not None:
                return found
    return None


def _aliases(entry: dict[str, Any]) -> list[str]:
    """``Field(alias="x")`` / ``validation_alias`` names in a field's value or annotation."""
    out: list[str] = []
    stack: list[Any] = [entry.get("value"), entry.get("ann")]
    while stack:
        e = stack.pop()
        if not isinstance(e, list) or not e:
            continue
        if e[0] == "call" and len(e) > 3:
            for kw in e[3]:
                value = kw[1]
                if kw[0] in ("alias", "validation_alias") and value[0] == "const":
                    out.append(str(value[1]))
        stack.extend(x for x in e[1:] if isinstance(x, list))
    return out

"""The project against its lock: the changes per queue and side, and the next lock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qgen.codegen.ir import ProjectSpec, QueueSpec
from qgen.codegen.lock.changes import QUEUE_REMOVED, TYPE, At, Change
from qgen.codegen.lock.compare import Differ
from qgen.codegen.lock.store import (
    MAX_HISTORY,
    ChangeRecord,
    HistoryEntry,
    LockFile,
    QueueLock,
)

Side = Literal["input", "output", "queue"]


@dataclass(frozen=True, slots=True)
class QueueChange:
    queue: str
    side: Side  # "queue": the queue itself was added or removed
    change: Change

    @property
    def breaking(self) -> bool:
        if self.side == "queue":
            return self.change.breaks_input or self.change.breaks_output
        return self.change.breaks(self.side)

    @property
    def message(self) -> str:
        if self.side == "queue":
            return f"queue {self.queue!r} {self.change.text}"
        return f"queue {self.queue!r} {self.side}: {self.change.describe()}"

    def record(self) -> ChangeRecord:
        assert self.side != "queue"
        return ChangeRecord(
            direction=self.side,
            code=self.change.code if self.breaking else "",
            breaking=self.breaking,
            field=self.change.at.path,
            message=self.change.describe(),
        )


def compare_side(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    return Differ(old, new).run()


def compare_queue(locked: QueueLock, spec: QueueSpec) -> list[QueueChange]:
    f = spec.function
    out = [QueueChange(spec.name, "input", c) for c in compare_side(locked.input, f.input_schema)]
    old, new = locked.output, f.output_schema
    if old is not None and new is not None:
        out += [QueueChange(spec.name, "output", c) for c in compare_side(old, new)]
    elif old is None and new is not None:
        text = "now returns a result (old callers ignore it)"
        out.append(QueueChange(spec.name, "output", Change("", text, False, False, At())))
    elif old is not None and new is None:
        gone = Change(TYPE, "no longer returns a result", False, True, At())
        out.append(QueueChange(spec.name, "output", gone))
    return out


def compare_project(lock: LockFile, project: ProjectSpec) -> list[QueueChange]:
    """Every change from the lock to the project, queue by queue (sorted by name)."""
    current = {q.name: q for q in project.queues}
    out: list[QueueChange] = []
    for name in sorted(lock.queues.keys() | current.keys()):
        locked, spec = lock.queues.get(name), current.get(name)
        if locked is not None and spec is not None:
            out += compare_queue(locked, spec)
        elif locked is not None:
            text = (
                "removed while it may still hold jobs: drain it (no job waiting, delayed or "
                "retrying), then run `qgen lock`"
            )
            removed = Change(QUEUE_REMOVED, text, True, True, At())
            out.append(QueueChange(name, "queue", removed))
        else:
            out.append(QueueChange(name, "queue", Change("", "added", False, False, At())))
    return out


def next_lock(old: LockFile | None, project: ProjectSpec) -> LockFile:
    """The lock that accepts the project as it is: unchanged queues keep their entry, changed
    ones get the next version and a history entry, removed ones leave."""
    queues: dict[str, QueueLock] = {}
    for spec in project.queues:
        f = spec.function
        entry = old.queues.get(spec.name) if old is not None else None
        if entry is None:
            queues[spec.name] = QueueLock(
                version=1, input=f.input_schema, output=f.output_schema, history=()
            )
        elif entry.input == f.input_schema and entry.output == f.output_schema:
            queues[spec.name] = entry
        else:
            version = entry.version + 1
            records = tuple(c.record() for c in compare_queue(entry, spec))
            history = (*entry.history, HistoryEntry(version=version, changes=records))
            queues[spec.name] = QueueLock(
                version=version,
                input=f.input_schema,
                output=f.output_schema,
                history=history[-MAX_HISTORY:],
            )
    return LockFile(format=1, queues=queues)


def lock_summary(old: LockFile | None, new: LockFile, changes: list[QueueChange]) -> list[str]:
    """One line per queue whose entry `qgen lock` changed."""
    lines: list[str] = []
    before = old.queues if old is not None else {}
    for name in sorted(before.keys() | new.queues.keys()):
        a, b = before.get(name), new.queues.get(name)
        if b is None:
            lines.append(f"  {name!r}: removed from the lock")
        elif a is None:
            lines.append(f"  {name!r}: version 1 (new)")
        elif a.version != b.version:
            breaking = sum(1 for c in changes if c.queue == name and c.breaking)
            accepted = f", {breaking} breaking change(s) accepted" if breaking else ""
            lines.append(f"  {name!r}: version {a.version} -> {b.version}{accepted}")
    return lines

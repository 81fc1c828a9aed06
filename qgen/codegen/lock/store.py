"""``qgen.lock.json``: its format, reading (with located errors) and writing.

Format 1, written with sorted keys and two-space indents, no timestamps::

    {
      "format": 1,
      "queues": {
        "<queue>": {
          "version": 3,                     # +1 each time `qgen lock` records different schemas
          "input": {...JSON Schema...},
          "output": {...JSON Schema...} | null,
          "history": [                      # the changes each version brought (last 20)
            {"version": 2, "changes": [
              {"direction": "input", "code": "QG401", "breaking": true,
               "field": ["currency"], "message": "field 'currency' became required"}]}
          ]
        }
      }
    }
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qgen.codegen.lock import LOCK_FILE

LOCK_FORMAT = 1
MAX_HISTORY = 20  # versions of change history kept per queue


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ChangeRecord(_Strict):
    direction: Literal["input", "output"]
    code: str
    breaking: bool
    field: tuple[str, ...]
    message: str


class HistoryEntry(_Strict):
    version: int = Field(ge=2)
    changes: tuple[ChangeRecord, ...]


class QueueLock(_Strict):
    version: int = Field(ge=1)
    input: dict[str, Any]
    output: dict[str, Any] | None
    history: tuple[HistoryEntry, ...] = ()


class LockFile(_Strict):
    format: Literal[1]
    queues: dict[str, QueueLock]


class LockError(Exception):
    """``qgen.lock.json`` cannot be used; ``line``/``col`` point into it."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.line = line
        self.col = col


def lock_path(root: Path) -> Path:
    return root / LOCK_FILE


def read_lock(root: Path) -> LockFile | None:
    """The project's lock, or None when it has none."""
    path = lock_path(root)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read {LOCK_FILE}: {exc}") from exc
    return parse_lock(text)


def parse_lock(text: str) -> LockFile:
    try:
        json.loads(text)  # for the line and column of a syntax error
    except json.JSONDecodeError as exc:
        raise LockError(f"{LOCK_FILE} is not valid JSON: {exc.msg}", exc.lineno, exc.colno) from exc
    try:
        return LockFile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise LockError(
            f"{LOCK_FILE} is not a qgen lock (format {LOCK_FORMAT}): {where}: {first['msg']}; "
            "fix it or delete it and run `qgen lock`",
            *queue_line(text, first["loc"][1] if len(first["loc"]) > 1 else None),
        ) from exc


def render_lock(lock: LockFile) -> str:
    # Python mode: schemas keep what the schema files hold (an infinite default stays
    # Infinity, where pydantic's JSON mode would write null).
    data = lock.model_dump()
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_lock(root: Path, lock: LockFile) -> bool:
    """Write the lock atomically; False when the file already holds these bytes."""
    path = lock_path(root)
    text = render_lock(lock)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    tmp = path.with_name(f".{LOCK_FILE}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return True


def queue_line(text: str, queue: Any) -> tuple[int, int]:
    """(line, col) of a queue's entry in a lock written by :func:`render_lock`; (1, 1) when it
    cannot be found."""
    if isinstance(queue, str):
        needle = f"    {json.dumps(queue, ensure_ascii=False)}: {{"
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith(needle):
                return number, 5
    return 1, 1

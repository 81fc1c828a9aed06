"""How the operator commands (``qgen queues / jobs / dlq / workers``) show things to people:
tables, times, durations, and text from the queues made safe for a terminal.

Job data, errors and worker names come from producers and jobs, so they may hold terminal
control sequences: every such text goes through :func:`safe` before it is printed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

from qgen.runtime.backends.base import JobInfo
from qgen.runtime.backends.ops import COUNTED, QueueCounts, RedriveReport, WorkerInfo
from qgen.runtime.errors import ConfigError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)?")
MAX_CELL = 60  # characters of one table cell


def parse_duration(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``45s``, ``500ms`` or plain seconds -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"not a duration: {text!r} (use e.g. 7d, 12h, 30m, 45s or 500ms)")
    return float(match[1]) * _UNITS[match[2] or "s"]


def safe(text: object, limit: int | None = None) -> str:
    """``text`` with control and format characters escaped (no terminal escape sequence
    survives), cut to ``limit`` characters."""
    out = []
    for ch in str(text):
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") and ch != " ":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    shown = "".join(out)
    if limit is not None and len(shown) > limit:
        shown = shown[: max(0, limit - 1)] + "…"
    return shown


def when(epoch: float | None) -> str:
    """Epoch seconds as local ISO time to the second, or "-"."""
    if epoch is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def print_json(value: Any, out: TextIO) -> None:
    """JSON for scripts; ASCII only, so no control character reaches a terminal raw."""
    print(json.dumps(value, indent=2, sort_keys=True), file=out)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Left-aligned columns; numbers (cells starting with a digit, ~ or ?) right-aligned."""
    cells = [[safe(c, MAX_CELL) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in [list(headers), *cells]) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = []
        for cell, width, head in zip(row, widths, headers, strict=True):
            numeric = head.isupper() and head in _NUMERIC
            parts.append(cell.rjust(width) if numeric else cell.ljust(width))
        return "  ".join(parts).rstrip()

    print(line(headers), file=out)
    for row in cells:
        print(line(row), file=out)


_NUMERIC = {name.upper() for name in COUNTED} | {"PID", "ATTEMPTS"}


def counts_row(queue: str, counts: QueueCounts) -> list[str]:
    mark = "~" if counts.approximate else ""
    cells = [queue]
    for name in COUNTED:
        cells.append("?" if name in counts.unknown else f"{mark}{getattr(counts, name)}")
    cells.append("yes" if counts.paused else "no")
    return cells


COUNT_HEADERS = ["QUEUE", *(name.upper() for name in COUNTED), "PAUSED"]


def job_rows(infos: Sequence[JobInfo]) -> list[list[str]]:
    return [
        [
            info.id,
            info.status.value,
            when(info.created_at),
            f"{info.attempts_made}/{info.max_attempts}",
            compact(info.data),
        ]
        for info in infos
    ]


JOB_HEADERS = ["ID", "STATUS", "CREATED", "ATTEMPTS", "DATA"]


def show_job(info: JobInfo, data_error: str | None, out: TextIO) -> None:
    """Every field of one job, one per line; data and result as indented JSON."""
    fields = [
        ("queue", info.queue),
        ("id", info.id),
        ("status", info.status.value),
        ("attempts", f"{info.attempts_made} of {info.max_attempts}"),
        ("created", when(info.created_at)),
        ("run at", when(info.run_at)),
        ("started", when(info.started_at)),
        ("finished", when(info.finished_at)),
        ("worker", info.worker or "-"),
        ("priority", "-" if info.priority is None else str(info.priority)),
        ("dead letter of", info.dead_letter_of or "-"),
        ("progress", "-" if info.progress is None else compact(info.progress)),
    ]
    for label, value in fields:
        print(f"{label + ':':<16}{safe(value)}", file=out)
    _block("data", info.data, out)
    if data_error:
        print(f"{'data error:':<16}{safe(data_error)}", file=out)
    if info.result is not None:
        _block("result", info.result, out)
    if info.error is not None:
        print(f"{'error:':<16}{safe(info.error.type)}: {safe(info.error.message)}", file=out)
        for line in (info.error.traceback or "").rstrip().splitlines():
            print(f"  {safe(line)}", file=out)


def _block(label: str, value: Any, out: TextIO) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    print(f"{label}:", file=out)
    for line in text.splitlines():
        print(f"  {safe(line)}", file=out)


def worker_rows(workers: Sequence[WorkerInfo]) -> list[list[str]]:
    return [
        [w.name, w.host, str(w.pid), ",".join(w.queues), when(w.started_at), when(w.last_seen)]
        for w in workers
    ]


WORKER_HEADERS = ["NAME", "HOST", "PID", "QUEUES", "STARTED", "LAST SEEN"]


def show_redrive(queue: str, source: str, report: RedriveReport, out: TextIO) -> None:
    verb = "would move" if report.dry_run else "moved"
    print(f"{verb} {len(report.moved)} job(s) from {source} back to {queue}", file=out)
    for job_id in report.moved:
        print(f"  {safe(job_id)}", file=out)
    if report.kept:
        print(f"kept {len(report.kept)} job(s) whose data no longer validates:", file=out)
        for job_id, error in report.kept:
            print(f"  {safe(job_id)}: {safe(error, 200)}", file=out)

"""Diagnostics: every problem the build finds, printed as ``path:line:col: QG### message``."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


# Stable codes. Never renumber: users grep for them and CI logs keep them.
CODES: dict[str, str] = {
    "QG001": "syntax error in a scanned file",
    "QG002": "module or name cannot be resolved",
    "QG003": "configuration problem ([tool.qgen] or CLI)",
    "QG004": "the output directory holds a file qgen did not generate",
    "QG005": "internal error while generating code",
    "QG006": "source entry skipped: not a regular file (FIFO, dangling link, link loop)",
    "QG007": "source file refused: over the size, line length or nesting limits",
    "QG101": "queue name is not a string literal or is invalid",
    "QG102": "queue name used twice",
    "QG103": "two queues map to the same client accessor",
    "QG104": "func of wire_queue_worker cannot be resolved statically",
    "QG105": "wired function is not decorated with @sessionless_func",
    "QG106": "auth=True or permissions on a function wired to a queue",
    "QG107": "job function has a wrong signature",
    "QG108": "missing annotation on data",
    "QG109": "config is not a literal dict or QueueWorkerConfig(...) call",
    "QG110": "unknown config key",
    "QG111": "config value has the wrong type or range",
    "QG112": "middleware cannot be resolved statically",
    "QG113": "dead_letter names an invalid queue",
    "QG201": "unsupported annotation",
    "QG202": "typing.TypedDict is not validated by pydantic on Python < 3.12",
    "QG203": "unsupported Field(...) argument or default",
    "QG204": "default, bound or example is not finite (NaN, Infinity): JSON cannot carry it",
    "QG301": "config key unsupported by a backend",
    "QG302": "function returns a value but the backend stores no results",
    # the schema lock (qgen.lock.json; rules in docs/schema-lock.md)
    "QG400": "qgen.lock.json cannot be read",
    "QG401": "schema lock: field added as required or became required",
    "QG402": "schema lock: field removed, or became optional in a result",
    "QG403": "schema lock: type changed, narrowed or widened",
    "QG404": "schema lock: enum or Literal value removed (input) or added (output)",
    "QG405": "schema lock: constraint tightened (input) or relaxed (output)",
    "QG406": "schema lock: null no longer accepted (input) or now possible (output)",
    "QG407": "schema lock: extra keys now refused",
    "QG408": "schema lock: queue removed while it may still hold jobs",
    "QG409": "schema lock: a keyword qgen cannot compare changed",
}


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    path: str
    line: int
    col: int
    code: str
    severity: Severity
    message: str

    def format(self) -> str:
        sev = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.path}:{self.line}:{self.col}: {self.code} {sev}{self.message}"


def has_errors(diags: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diags)


def sort_diagnostics(diags: list[Diagnostic]) -> list[Diagnostic]:
    """Deterministic order: by file, then position, then code; duplicates removed."""
    return sorted(set(diags))

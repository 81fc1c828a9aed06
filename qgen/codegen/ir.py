"""The intermediate model between the scanner and the renderer.

Plain frozen dataclasses holding JSON-able values only (no CST nodes), so they pickle across the
scanner's process pool and serialize into manifest.json unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JSON = Any  # a value json.dumps accepts


@dataclass(frozen=True, slots=True)
class SourceLocation:
    path: str  # relative to the project root, forward slashes
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A @sessionless_func job function, as the scanner saw it."""

    name: str  # function name
    module: str  # dotted module path where it is defined
    is_async: bool
    takes_interaction: bool
    input_type: str  # the annotation as written, for display ("PaymentRequest")
    output_type: str  # "None" when the function returns no result
    input_schema: dict[str, JSON]  # JSON Schema 2020-12, with $defs
    output_schema: dict[str, JSON] | None  # None when the output is None
    docs: dict[str, JSON] = field(default_factory=dict)  # summary, description, tags, errors
    auth: bool = False
    permissions: tuple[str, ...] = ()
    location: SourceLocation | None = None

    @property
    def import_path(self) -> str:
        return f"{self.module}:{self.name}"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One wire_queue_worker(...) call."""

    name: str
    accessor: str  # python identifier used on the client: "publish-article" -> "publish_article"
    function: FunctionSpec
    config: dict[str, JSON]  # normalized: durations in the key's unit, backoff as a dict
    middleware: tuple[str, ...]  # "module:name" import paths, in call order
    tags: tuple[str, ...]
    wiring_module: str  # the module whose import registers this queue
    location: SourceLocation


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    """One wire_schedule(...) call (checked: valid cron/zone, wired queue, data fits)."""

    name: str
    queue: str
    cron: str | None  # exactly one of cron and every_ms
    every_ms: int | None
    tz: str
    data: JSON
    catch_up: bool
    wiring_module: str
    location: SourceLocation

    def to_json(self) -> dict[str, JSON]:
        """The manifest's entry (``qgen.runtime.schedules.Schedule.from_json`` reads it)."""
        return {
            "queue": self.queue,
            "cron": self.cron,
            "every_ms": self.every_ms,
            "tz": self.tz,
            "data": self.data,
            "catch_up": self.catch_up,
        }


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    queues: tuple[QueueSpec, ...]  # sorted by name
    services: str | None  # "module:attr" of the services factory, from [tool.qgen]
    out_package: str  # dotted package of the generated output
    schedules: tuple[ScheduleSpec, ...] = ()  # sorted by name

    @property
    def wiring_modules(self) -> tuple[str, ...]:
        modules = {q.wiring_module for q in self.queues}
        return tuple(sorted(modules | {s.wiring_module for s in self.schedules}))

"""``wire_schedule(...)`` calls -> ScheduleSpec, with every check the build can make.

Codes: QG501 schedule name, QG502 cron / every, QG503 time zone, QG504 queue not wired,
QG505 data failing the queue's input schema, QG506 duplicate name, QG507 an argument that is not
a literal (or positional, or unknown).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qgen.codegen.ir import QueueSpec, ScheduleSpec, SourceLocation
from qgen.codegen.scan.expr import Expr, NotLiteral, kwarg_pos, literal, pos
from qgen.codegen.scan.resolve import Index
from qgen.codegen.scan.wirings import TIMEDELTA
from qgen.diagnostics import Diagnostic, Severity
from qgen.runtime import schedules as rt

WIRE_SCHEDULE = ("ext", "qgen.wire_schedule")
_ARGS = ("name", "queue", "cron", "every", "tz", "data", "catch_up")
_MAX_PROBLEMS = 5  # schema errors shown per schedule


class ScheduleReader:
    def __init__(self, index: Index, queues: Sequence[QueueSpec], wired: set[str]) -> None:
        self.index = index
        self.queues = {q.name: q for q in queues}
        self.wired = wired  # every queue name a wiring names, even one with errors
        self.diagnostics: list[Diagnostic] = []

    def err(self, module: str, at: Expr | tuple[int, int], code: str, msg: str) -> None:
        line, col = pos(at) if isinstance(at, list) else at
        self.diagnostics.append(
            Diagnostic(self.index.path_of(module), line, col, code, Severity.ERROR, msg)
        )

    def calls(self) -> list[tuple[str, Expr]]:
        out: list[tuple[str, str, Expr]] = []
        for module, summary in self.index.mods.items():
            for call in summary["wirings"]:
                if self.index.resolve_follow(call[1], module) == WIRE_SCHEDULE:
                    out.append((summary["path"], module, call))
        out.sort(key=lambda t: (t[0], pos(t[2])))
        return [(m, c) for _, m, c in out]

    def read_all(self) -> list[ScheduleSpec]:
        specs: dict[str, ScheduleSpec] = {}
        seen: dict[str, str] = {}  # name -> "path:line" of its first wire_schedule
        for module, call in self.calls():
            spec = self.read(module, call)
            if spec is None:
                continue
            if spec.name in seen:
                self.err(
                    module,
                    kwarg_pos(call, "name"),
                    "QG506",
                    f"schedule {spec.name!r} is already wired at {seen[spec.name]}",
                )
                continue
            seen[spec.name] = f"{spec.location.path}:{spec.location.line}"
            specs[spec.name] = spec
        return [specs[n] for n in sorted(specs)]

    def _literals(self, module: str, call: Expr) -> dict[str, Any] | None:
        ok = True
        if call[2]:
            self.err(module, call, "QG507", "wire_schedule takes keyword arguments only")
            ok = False
        values: dict[str, Any] = {}
        is_td = self._is_timedelta(module)
        for key, value_expr, _p in call[3]:
            if key not in _ARGS:
                self.err(module, kwarg_pos(call, key), "QG507", f"unknown argument {key}=")
                ok = False
                continue
            try:
                values[key] = _jsonable(literal(value_expr, is_td if key == "every" else None))
            except NotLiteral as exc:
                self.err(
                    module,
                    exc.expr,
                    "QG507",
                    f"wire_schedule {key}=: {exc.what} is not a literal (the build must read it)",
                )
                ok = False
        return values if ok else None

    def read(self, module: str, call: Expr) -> ScheduleSpec | None:
        values = self._literals(module, call)
        if values is None:
            return None
        kw = {k: v for k, v, _ in call[3]}
        at = {k: kw.get(k, call) for k in _ARGS}
        problems: list[tuple[Expr, str, str | None]] = [
            (at["name"], "QG501", rt.name_problem(values.get("name"))),
            (at["tz"], "QG503", rt.tz_problem(values.get("tz", "UTC"))),
        ]
        cron, every = values.get("cron"), values.get("every")
        every_ms = None
        if (cron is None) == (every is None):
            problems.append((call, "QG502", "wire_schedule needs exactly one of cron= and every="))
        elif cron is not None:
            problems.append((at["cron"], "QG502", rt.cron_problem(cron)))
        else:
            every_ms, problem = rt.every_ms_of(every)
            problems.append((at["every"], "QG502", problem))
        catch_up = values.get("catch_up", True)
        if not isinstance(catch_up, bool):
            problems.append((at["catch_up"], "QG507", "catch_up must be True or False"))
        queue = self._queue(module, at["queue"], values.get("queue"))
        found = [(e, c, p) for e, c, p in problems if p is not None]
        for e, code, problem in found:
            self.err(module, e, code, problem)
        if found or queue is None:
            return None
        data = values.get("data")
        if not self._data_fits(module, at["data"], queue, data):
            return None
        line, col = pos(call)
        return ScheduleSpec(
            name=values["name"],
            queue=queue.name,
            cron=cron,
            every_ms=every_ms,
            tz=values.get("tz", "UTC"),
            data=data,
            catch_up=catch_up,
            wiring_module=module,
            location=SourceLocation(self.index.path_of(module), line, col),
        )

    def _queue(self, module: str, at: Expr, name: Any) -> QueueSpec | None:
        spec = self.queues.get(name) if isinstance(name, str) else None
        if spec is None and name not in self.wired:
            self.err(
                module,
                at,
                "QG504",
                f"schedule queue={name!r} is not a queue wired with wire_queue_worker",
            )
        return spec  # a wired queue with its own errors: reported there, not here

    def _data_fits(self, module: str, at: Expr, queue: QueueSpec, data: Any) -> bool:
        from jsonschema import Draft202012Validator

        schema = queue.function.input_schema
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
        for error in errors[:_MAX_PROBLEMS]:
            where = "/".join(str(p) for p in error.absolute_path) or "data"
            self.err(
                module,
                at,
                "QG505",
                f"schedule data does not match the input of queue {queue.name!r} "
                f"({queue.function.input_type}): {where}: {error.message}",
            )
        return not errors

    def _is_timedelta(self, module: str) -> Any:
        return lambda f: self.index.resolve_follow(f, module) == TIMEDELTA


def _jsonable(value: Any) -> Any:
    """Tuples become lists (JSON arrays); the rest is already JSON or a timedelta."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def wired_names(index: Index) -> set[str]:
    """Every literal queue name of a wire_queue_worker call, valid or not."""
    from qgen.codegen.scan.wirings import WIRE

    out: set[str] = set()
    for module, summary in index.mods.items():
        for call in summary["wirings"]:
            if index.resolve_follow(call[1], module) == WIRE:
                q = {k: v for k, v, _ in call[3]}.get("queue")
                if q is not None and q[0] == "const" and isinstance(q[1], str):
                    out.add(q[1])
    return out


__all__ = ["ScheduleReader", "wired_names"]

"""``wire_queue_worker(...)`` calls -> QueueSpec, with every check the build can make."""

from __future__ import annotations

from typing import Any

from qgen.codegen.client_names import client_accessor
from qgen.codegen.ir import QueueSpec, SourceLocation
from qgen.codegen.scan.expr import Expr, NotLiteral, kwarg_pos, literal, pos, text
from qgen.codegen.scan.functions import FunctionReader
from qgen.codegen.scan.resolve import Index
from qgen.diagnostics import Diagnostic, Severity
from qgen.runtime.config_keys import check_value
from qgen.runtime.names import QUEUE_NAME_PATTERN, is_valid_queue_name

WIRE = ("ext", "qgen.wire_queue_worker")
CONFIG_CALL = ("ext", "qgen.QueueWorkerConfig")
TIMEDELTA = ("ext", "datetime.timedelta")
_ARGS = ("queue", "func", "config", "middleware", "tags")


class WiringReader:
    def __init__(self, index: Index, functions: FunctionReader) -> None:
        self.index = index
        self.functions = functions
        self.diagnostics: list[Diagnostic] = []

    def err(self, module: str, at: Expr | tuple[int, int], code: str, msg: str) -> None:
        line, col = pos(at) if isinstance(at, list) else at
        self.diagnostics.append(
            Diagnostic(self.index.path_of(module), line, col, code, Severity.ERROR, msg)
        )

    def calls(self) -> list[tuple[str, Expr]]:
        """(module, call) of every wire_queue_worker call, in path/position order."""
        out: list[tuple[str, str, Expr]] = []
        for module, summary in self.index.mods.items():
            for call in summary["wirings"]:
                if self.index.resolve_follow(call[1], module) == WIRE:
                    out.append((summary["path"], module, call))
        out.sort(key=lambda t: (t[0], pos(t[2])))
        return [(m, c) for _, m, c in out]

    def read_all(self) -> list[QueueSpec]:
        specs: list[QueueSpec] = []
        seen: dict[str, str] = {}  # queue -> "path:line" of its first wiring
        accessors: dict[str, str] = {}  # accessor -> queue
        for module, call in self.calls():
            qexpr = {k: v for k, v, _ in call[3]}.get("queue")
            name = qexpr[1] if qexpr is not None and qexpr[0] == "const" else None
            clash = False
            if isinstance(name, str) and is_valid_queue_name(name):
                qpos = kwarg_pos(call, "queue")
                accessor = client_accessor(name)
                if name in seen:
                    self.err(
                        module, qpos, "QG102", f"queue {name!r} is already wired at {seen[name]}"
                    )
                    clash = True
                elif accessor in accessors:
                    self.err(
                        module,
                        qpos,
                        "QG103",
                        f"queues {accessors[accessor]!r} and {name!r} both map to the client "
                        f"accessor {accessor!r}",
                    )
                    clash = True
                else:
                    seen[name] = f"{self.index.path_of(module)}:{pos(call)[0]}"
                    accessors[accessor] = name
            spec = self.read(module, call)
            if spec is not None and not clash:
                specs.append(spec)
        return sorted(specs, key=lambda s: s.name)

    def read(self, module: str, call: Expr) -> QueueSpec | None:
        kw = {k: v for k, v, _ in call[3]}
        ok = True
        if call[2]:
            self.err(module, call, "QG109", "wire_queue_worker takes keyword arguments only")
            ok = False
        for key in sorted(set(kw) - set(_ARGS)):
            self.err(module, kwarg_pos(call, key), "QG109", f"unknown argument {key}=")
            ok = False
        qexpr = kw.get("queue")
        name = qexpr[1] if qexpr is not None and qexpr[0] == "const" else None
        if qexpr is None or not is_valid_queue_name(name):
            shown = text(qexpr) if qexpr is not None else "missing"
            self.err(
                module,
                qexpr if qexpr is not None else call,
                "QG101",
                f"queue must be a string literal matching {QUEUE_NAME_PATTERN}, not {shown}",
            )
            ok = False
        func = self._func(module, call, kw.get("func"))
        config = self._config(module, kw.get("config"))
        middleware = self._middleware(module, kw.get("middleware"))
        tags = self._tags(module, kw.get("tags"))
        if not ok or func is None or config is None or middleware is None or tags is None:
            return None
        assert isinstance(name, str)
        line, col = pos(call)
        return QueueSpec(
            name=name,
            accessor=client_accessor(name),
            function=func,
            config=config,
            middleware=middleware,
            tags=tags,
            wiring_module=module,
            location=SourceLocation(self.index.path_of(module), line, col),
        )

    def _func(self, module: str, call: Expr, e: Expr | None) -> Any:
        if e is None:
            self.err(module, call, "QG104", "wire_queue_worker needs func=")
            return None
        ref = self.index.resolve_follow(e, module) if e[0] in ("name", "attr") else ("?",)
        if ref[0] != "def" or self.index.get_def(ref)["k"] != "func":
            self.err(
                module,
                e,
                "QG104",
                f"func={text(e)} cannot be resolved statically to a function of the scanned "
                "packages",
            )
            return None
        return self.functions.read(ref, (module, e))

    def _config(self, module: str, e: Expr | None) -> dict[str, Any] | None:
        if e is None or (e[0] == "const" and e[1] is None):
            return {}
        items: list[tuple[str, Expr, tuple[int, int]]] = []
        if e[0] == "dict" and all(k[0] == "const" and isinstance(k[1], str) for k, _ in e[1]):
            items = [(k[1], v, pos(k)) for k, v in e[1]]
        elif e[0] == "call" and self.index.resolve_follow(e[1], module) == CONFIG_CALL and not e[2]:
            items = [(k, v, (p[0], p[1])) for k, v, p in e[3]]
        else:
            self.err(
                module,
                e,
                "QG109",
                "config must be a literal dict or a QueueWorkerConfig(...) call",
            )
            return None
        out: dict[str, Any] = {}
        ok = True
        for key, value_expr, kpos in items:
            try:
                value = literal(value_expr, self._is_timedelta(module))
            except NotLiteral as exc:
                self.err(module, exc.expr, "QG111", f"config {key}: {exc.what} is not a literal")
                ok = False
                continue
            norm, problem = check_value(key, value)
            if problem is not None:
                code = "QG110" if problem.startswith("unknown config key") else "QG111"
                if key == "dead_letter" and code == "QG111":
                    code = "QG113"
                self.err(module, kpos if code == "QG110" else value_expr, code, problem)
                ok = False
                continue
            out[key] = norm
        return dict(sorted(out.items())) if ok else None

    def _is_timedelta(self, module: str) -> Any:
        return lambda f: self.index.resolve_follow(f, module) == TIMEDELTA

    def _middleware(self, module: str, e: Expr | None) -> tuple[str, ...] | None:
        if e is None or (e[0] == "const" and e[1] is None):
            return ()
        if e[0] not in ("list", "tuple"):
            self.err(module, e, "QG112", "middleware must be a list of functions")
            return None
        out: list[str] = []
        for item in e[1]:
            ref = self.index.resolve_follow(item, module) if item[0] in ("name", "attr") else ("?",)
            if ref[0] == "def" and self.index.get_def(ref)["k"] == "func":
                out.append(f"{ref[1]}:{ref[2]}")
            elif ref[0] == "ext" and "." in ref[1] and not ref[1].startswith("builtins."):
                mod, _, attr = ref[1].rpartition(".")
                out.append(f"{mod}:{attr}")
            else:
                self.err(
                    module,
                    item,
                    "QG112",
                    f"middleware {text(item)} cannot be resolved statically to a function",
                )
                return None
        return tuple(out)

    def _tags(self, module: str, e: Expr | None) -> tuple[str, ...] | None:
        if e is None:
            return ()
        try:
            value = literal(e)
        except NotLiteral:
            value = None
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            self.err(module, e, "QG111", "tags must be a list of string literals")
            return None
        return tuple(value)

"""Cross-module name resolution over the per-file summaries.

A reference is one of:
    ("def", module, name)   a top-level definition in a scanned module
    ("mod", module)         a scanned module
    ("ext", dotted)         something outside the scanned packages, by canonical dotted name
    ("missing", text)       nothing by that name
Imports are followed however written: aliases, relative imports, re-exports through
``__init__.py`` and chains of them, star imports of scanned modules, submodules.
"""

from __future__ import annotations

import builtins
from typing import Any

from qgen.codegen.scan.expr import Expr

Ref = tuple[str, ...]

_BUILTINS = frozenset(dir(builtins))
_MAX_DEPTH = 64

# Several spellings of the same external object; keys are dotted prefixes.
_CANON: dict[str, str] = {
    "pydantic.main.BaseModel": "pydantic.BaseModel",
    "pydantic.fields.Field": "pydantic.Field",
    "pydantic.config.ConfigDict": "pydantic.ConfigDict",
    "pydantic.root_model.RootModel": "pydantic.RootModel",
    "pydantic.dataclasses.dataclass": "dataclasses.dataclass",
    "qgen.runtime.functions.sessionless_func": "qgen.sessionless_func",
    "qgen.runtime.wiring.wire_queue_worker": "qgen.wire_queue_worker",
    "qgen.runtime.wiring.QueueWorkerConfig": "qgen.QueueWorkerConfig",
    "qgen.runtime.wiring.BackoffConfig": "qgen.BackoffConfig",
    "typing_extensions.TypedDict": "typing_extensions.TypedDict",
    "typing.TypedDict": "typing.TypedDict",
}
_MODULE_CANON = {
    "typing_extensions": "typing",
    "collections.abc": "typing",
    "pydantic.types": "pydantic",
    "pydantic.networks": "pydantic",
}


def canon(dotted: str) -> str:
    if dotted in _CANON:
        return _CANON[dotted]
    mod, _, name = dotted.rpartition(".")
    if mod in _MODULE_CANON:
        return f"{_MODULE_CANON[mod]}.{name}"
    return dotted


class Index:
    def __init__(
        self, summaries: dict[str, dict[str, Any]], packages: tuple[str, ...] = ()
    ) -> None:
        self.mods = summaries
        self.packages = packages  # the scanned packages: a module under them that is absent
        # from ``summaries`` does not exist (or is the generated output), it is not external

    def _absent(self, dotted: str) -> bool:
        return any(dotted == p or dotted.startswith(p + ".") for p in self.packages)

    def path_of(self, module: str) -> str:
        return str(self.mods[module]["path"])

    def get_def(self, ref: Ref) -> dict[str, Any]:
        info: dict[str, Any] = self.mods[ref[1]]["defs"][ref[2]]
        return info

    def lookup(self, module: str, name: str, depth: int = 0) -> Ref:
        summary = self.mods.get(module)
        if summary is None:
            return ("ext", canon(f"{module}.{name}"))
        if depth > _MAX_DEPTH:
            return ("missing", name)
        bound = summary["bindings"].get(name)
        if bound is not None:
            kind = bound[0]
            if kind == "def":
                if module == "qgen" or module.startswith("qgen."):
                    # qgen itself is being scanned: its API keeps its canonical names
                    return ("ext", canon(f"{module}.{name}"))
                return ("def", module, name)
            if kind == "mod":
                return self._module_ref(bound[1])
            base, attr = bound[1], bound[2]
            if base in self.mods:
                ref = self.lookup(base, attr, depth + 1)
                if ref[0] == "missing":
                    if f"{base}.{attr}" in self.mods:
                        return ("mod", f"{base}.{attr}")
                    return ("missing", f"{base}.{attr}") if ref[1] == attr else ref
                return ref
            if f"{base}.{attr}" in self.mods:
                return ("mod", f"{base}.{attr}")
            if self._absent(base):
                return ("missing", f"{base}.{attr}")
            return ("ext", canon(f"{base}.{attr}"))
        for star in summary["stars"]:
            if star in self.mods and not name.startswith("_"):
                ref = self.lookup(star, name, depth + 1)
                if ref[0] != "missing":
                    return ref
        if f"{module}.{name}" in self.mods:
            return ("mod", f"{module}.{name}")
        if name in _BUILTINS:
            return ("ext", f"builtins.{name}")
        return ("missing", name)

    def _module_ref(self, dotted: str) -> Ref:
        if dotted in self.mods:
            return ("mod", dotted)
        return ("missing", dotted) if self._absent(dotted) else ("ext", canon(dotted))

    def resolve(self, e: Expr, module: str) -> Ref:
        """Resolve a name or attribute chain; other expressions give ("missing", text)."""
        if e[0] == "name":
            return self.lookup(module, e[1])
        if e[0] == "attr":
            base = self.follow(self.resolve(e[1], module))
            if base[0] == "mod":
                return self.lookup(base[1], e[2])
            if base[0] == "ext":
                return ("ext", canon(f"{base[1]}.{e[2]}"))
            if base[0] == "def":
                # Color.RED on an enum: keep the member as an attribute of the definition
                return ("member", base[1], base[2], e[2])
            return base
        return ("missing", "")

    def follow(self, ref: Ref, depth: int = 0) -> Ref:
        """Follow ``X = some.name`` assignments (aliases of names) to what they name."""
        while ref[0] == "def" and depth < _MAX_DEPTH:
            info = self.get_def(ref)
            if info["k"] != "var" or info.get("ann") is not None:
                return ref
            value = info["value"]
            if value[0] not in ("name", "attr"):
                return ref
            ref = self.resolve(value, ref[1])
            depth += 1
        return ref

    def resolve_follow(self, e: Expr, module: str) -> Ref:
        return self.follow(self.resolve(e, module))

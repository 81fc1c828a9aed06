"""Finding the source files of the scanned packages (safely: see ``guards``).

Kept free of libcst, so a warm build (which only hashes the inputs) never imports it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qgen.codegen.scan.guards import read_source
from qgen.diagnostics import Diagnostic


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative to the root, forward slashes
    module: str
    is_pkg: bool
    content: bytes


def discover(root: Path, sources: Sequence[str], out_package: str) -> list[SourceFile]:
    """Every readable .py file of the source packages except the output package."""
    return discover_checked(root, sources, out_package)[0]


def discover_checked(
    root: Path, sources: Sequence[str], out_package: str
) -> tuple[list[SourceFile], list[Diagnostic]]:
    """Every .py file of the source packages except the output package, sorted by path, and a
    diagnostic for each one skipped or refused (see ``guards``)."""
    out_dir = root.joinpath(*out_package.split(".")) if out_package else None
    found: dict[str, SourceFile] = {}
    diags: list[Diagnostic] = []
    for source in sources:
        base = root.joinpath(*source.split("."))
        candidates: list[Path] = []
        if base.is_dir():
            for dirpath, dirnames, filenames in os.walk(base):
                here = Path(dirpath)
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".")
                    and d != "__pycache__"
                    and (out_dir is None or here / d != out_dir)
                )
                candidates.extend(here / f for f in filenames if f.endswith(".py"))
        elif base.with_suffix(".py").exists() or base.with_suffix(".py").is_symlink():
            candidates.append(base.with_suffix(".py"))
        for file in candidates:
            rel = file.relative_to(root).as_posix()
            parts = rel[:-3].split("/")
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            if not all(p.isidentifier() for p in parts):
                continue  # not importable as a module
            content, problem = read_source(file, rel)
            if problem is not None:
                diags.append(problem)
            if content is not None:
                found[rel] = SourceFile(rel, ".".join(parts), is_pkg, content)
    return [found[k] for k in sorted(found)], sorted(set(diags))

"""Helpers for the scanner tests: small projects written to tmp_path and scanned."""

from __future__ import annotations

import textwrap
from pathlib import Path

from qgen.codegen.scan import ScanResult, scan_project

Files = dict[str, str]


def write(root: Path, files: Files) -> Path:
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"), "utf-8")
    return root


def scan(root: Path, **kw: object) -> ScanResult:
    kw.setdefault("services", None)
    kw.setdefault("out_package", "shop.generated")
    return scan_project(root, ["shop"], **kw)  # type: ignore[arg-type]


def messages(result: ScanResult) -> list[str]:
    return [d.format() for d in result.diagnostics]

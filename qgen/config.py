"""``[tool.qgen]`` settings: found by walking up to the nearest pyproject.toml, CLI overrides.

    [tool.qgen]
    source = ["shop"]                           # packages to scan (dotted, relative to the root)
    out = "shop/generated"                      # output package directory, relative to the root
    services = "shop.services:create_services"  # optional services factory, "module:attr"

Every problem becomes a QG003 diagnostic (the CLI exits 2), never an exception.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from qgen.diagnostics import Diagnostic, Severity

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_SERVICES = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*")


@dataclass(frozen=True, slots=True)
class Config:
    root: Path  # the folder holding pyproject.toml (absolute)
    sources: tuple[str, ...]  # dotted packages
    out: str  # output package directory relative to root, forward slashes
    services: str | None

    @property
    def out_dir(self) -> Path:
        return self.root / self.out

    @property
    def out_package(self) -> str:
        return self.out.replace("/", ".")


@dataclass(frozen=True, slots=True)
class Overrides:
    project: Path | None = None
    source: tuple[str, ...] | None = None
    out: str | None = None
    services: str | None = None


def _diag(path: str, message: str) -> Diagnostic:
    return Diagnostic(path, 1, 1, "QG003", Severity.ERROR, message)


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(
    cwd: Path, overrides: Overrides | None = None
) -> tuple[Config | None, list[Diagnostic]]:
    """Read ``[tool.qgen]`` from the nearest pyproject.toml above ``cwd`` (or ``--project``)."""
    ov = overrides or Overrides()
    start = (ov.project or cwd).resolve()
    if ov.project is not None and not start.is_dir():
        return None, [_diag(str(ov.project), f"--project {ov.project} is not a directory")]
    pyproject = find_pyproject(start)
    if pyproject is None:
        return None, [
            _diag(
                "pyproject.toml",
                f"no pyproject.toml found in {start} or any parent; create one with a "
                "[tool.qgen] table (source, out)",
            )
        ]
    shown = "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return None, [_diag(shown, f"cannot read {pyproject}: {exc}")]
    table = data.get("tool", {}).get("qgen", {}) if isinstance(data.get("tool"), dict) else {}
    diags: list[Diagnostic] = []
    if not isinstance(table, dict):
        return None, [_diag(shown, "[tool.qgen] must be a table")]
    known = {"source", "out", "services"}
    for key in sorted(set(table) - known):
        diags.append(
            _diag(shown, f"unknown key {key!r} in [tool.qgen] (known: out, services, source)")
        )

    sources = _sources(
        list(ov.source) if ov.source is not None else table.get("source"), pyproject, diags
    )
    out = _out(ov.out if ov.out is not None else table.get("out"), diags)

    services_raw: object = ov.services if ov.services is not None else table.get("services")
    services: str | None = None
    if services_raw is not None and services_raw != "":
        if not isinstance(services_raw, str) or not _SERVICES.fullmatch(services_raw):
            diags.append(
                _diag(shown, f"services {services_raw!r} must look like 'package.module:attr'")
            )
        else:
            services = services_raw
    if diags:
        return None, diags
    return Config(pyproject.parent, tuple(sources), out, services), []


def _sources(source: object, pyproject: Path, diags: list[Diagnostic]) -> list[str]:
    """``source``: packages to scan, each a dotted name found under the project."""
    shown = "pyproject.toml"
    if isinstance(source, str):
        source = [source]
    sources: list[str] = []
    if source is None:
        diags.append(_diag(shown, "[tool.qgen] source is missing (a list of packages to scan)"))
    elif not isinstance(source, list) or not source:
        diags.append(_diag(shown, "[tool.qgen] source must be a non-empty list of package names"))
    else:
        for item in source:
            if not isinstance(item, str) or not _DOTTED.fullmatch(item):
                diags.append(_diag(shown, f"source entry {item!r} is not a dotted package name"))
            elif not (pyproject.parent / item.replace(".", "/")).is_dir():
                diags.append(
                    _diag(shown, f"source package {item!r} not found under {pyproject.parent}")
                )
            else:
                sources.append(item)
    return sources


def _out(out_raw: object, diags: list[Diagnostic]) -> str:
    """``out``: the generated package's directory, relative, of identifiers."""
    shown = "pyproject.toml"
    out = ""
    if out_raw is None:
        diags.append(_diag(shown, '[tool.qgen] out is missing (e.g. out = "shop/generated")'))
    elif not isinstance(out_raw, str):
        diags.append(_diag(shown, "[tool.qgen] out must be a string path"))
    else:
        out = str(PurePosixPath(out_raw.replace("\\", "/").strip("/")))
        parts = out.split("/")
        if (
            PurePosixPath(out_raw).is_absolute()
            or out in ("", ".")
            or any(not _DOTTED.fullmatch(p) or "." in p for p in parts)
        ):
            diags.append(
                _diag(
                    shown,
                    f"out {out_raw!r} must be a relative package directory whose parts are "
                    "Python identifiers (e.g. shop/generated)",
                )
            )
    return out

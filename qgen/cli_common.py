"""What the ``qgen`` commands share: the project options, the URL option, diagnostics out."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from qgen.config import Config, Overrides, load_config
from qgen.diagnostics import Diagnostic

EPILOG = (
    "Settings come from [tool.qgen] in the nearest pyproject.toml above the current directory "
    "(source, out, services); the flags override them. Exit codes: 0 ok, 1 stale (check), "
    "2 errors."
)


def project_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--project", metavar="DIR", type=Path, help="start the pyproject.toml search here"
    )
    p.add_argument(
        "--source",
        metavar="PKG",
        action="append",
        help="package to scan (repeat for several); overrides [tool.qgen] source",
    )
    p.add_argument("--out", metavar="DIR", help="output package directory, e.g. shop/generated")
    p.add_argument(
        "--services", metavar="MOD:ATTR", help="services factory, e.g. shop.services:make"
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes for scanning and model generation (default: CPU count)",
    )


def print_diags(diags: Sequence[Diagnostic], err: TextIO) -> None:
    for d in diags:
        print(d.format(), file=err)


def project_config(args: argparse.Namespace) -> tuple[Config | None, list[Diagnostic]]:
    """The project's [tool.qgen] settings with the command line's overrides."""
    overrides = Overrides(
        project=args.project,
        source=tuple(args.source) if args.source else None,
        out=args.out,
        services=args.services,
    )
    config, diags = load_config(Path.cwd(), overrides)
    return config, list(diags)


def url_of(args: argparse.Namespace, err: TextIO) -> str | None:
    url: str | None = args.url or os.environ.get("QGEN_URL")
    if not url:
        print("qgen: no URL: pass --url or set QGEN_URL", file=err)
    return url

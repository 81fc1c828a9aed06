"""Helpers for the codegen tests: copy a golden case, run the CLI, read generated trees.

Golden cases live in ``tests/golden/cases/<case>/``: a small project (pyproject.toml with
[tool.qgen] and a package), ``cli.txt`` (the full output of ``qgen build`` on it) and, when the
build succeeds, ``expected/`` (the generated tree). Regenerate them all with

    QGEN_REGEN=1 pytest tests/golden -q
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from qgen.cli import main

CASES = Path(__file__).resolve().parent / "cases"
REGEN = os.environ.get("QGEN_REGEN") == "1"
_SKIP = {"expected", "cli.txt", "__pycache__", ".qgen"}


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "pyproject.toml").is_file())


def copy_case(name: str, dest: Path) -> Path:
    """The case's project (without its expectations) copied to ``dest/name``."""
    target = dest / name
    shutil.copytree(CASES / name, target, ignore=lambda d, names: [n for n in names if n in _SKIP])
    # Broken sources are stored as *.py.broken so linters of this repository skip them.
    for broken in sorted(target.rglob("*.py.broken")):
        broken.rename(broken.with_suffix(""))
    return target


def out_dir(project: Path) -> Path:
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    return project / data["tool"]["qgen"]["out"]


def run_cli(project: Path, *args: str) -> tuple[int, str, str]:
    """``qgen <args> --project <project>`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main([*args, "--project", str(project)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def run_subprocess(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # The console script, as users run it (`python -m` would put the cwd on sys.path).
        [str(Path(sys.executable).parent / "qgen"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def snapshot(code: int, out: str, err: str, project: Path) -> str:
    text = f"exit: {code}\n--- stdout\n{out}--- stderr\n{err}"
    return text.replace(str(project), "<project>")


def read_tree(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def write_tree(folder: Path, tree: dict[str, bytes]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    for rel, data in tree.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def build_case(name: str, dest: Path) -> Path:
    """Copy a case and build it (must succeed); returns the project folder."""
    project = copy_case(name, dest)
    code, out, err = run_cli(project, "build")
    assert code == 0, out + err
    return project

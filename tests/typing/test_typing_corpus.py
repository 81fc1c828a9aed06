"""The typing corpus: a generated client checked by mypy --strict and basedpyright.

``tests/typing/project`` has one queue per kind of input (a model with aliases, enums,
Literals, optional and union fields, nested models, a TypedDict, a dataclass, a recursive
model, a list, an enum); ``corpus/wrong.py`` holds wrong usages, each marked ``# E`` and each
required to be an error at its own line under both checkers; ``corpus/right.py`` holds correct
usages, and it and the generated package must be clean under both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden.harness import run_cli

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
MARK = "# E"


def _marked(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {n for n, text in enumerate(lines, start=1) if text.rstrip().endswith(MARK)}


def _snippets(path: Path) -> int:
    return len(re.findall(r"^(?:async )?def ", path.read_text(encoding="utf-8"), re.M))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("typing") / "project"
    shutil.copytree(HERE / "project", root)
    for name in ("wrong.py", "right.py"):
        shutil.copy(HERE / "corpus" / name, root / name)
    code, out, err = run_cli(root, "build")
    assert code == 0, out + err
    return root


def _errors(lines: str, pattern: str, root: Path) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for line in lines.splitlines():
        m = re.match(pattern, line.strip())
        if m:
            rel = (root / m["path"]).resolve().relative_to(root.resolve()).as_posix()
            found.setdefault(rel, set()).add(int(m["line"]))
    return found


def _mypy(root: Path) -> tuple[dict[str, set[int]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         str(root / ".mypy-cache"), "typo/generated", "wrong.py", "right.py"],
        cwd=root, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    return _errors(proc.stdout, r"(?P<path>[^:]+\.py):(?P<line>\d+): error:", root), proc.stdout


def _pyright(root: Path) -> tuple[dict[str, set[int]], str]:
    proc = subprocess.run(
        [str(BIN / "basedpyright"), "--pythonpath", sys.executable, "--level", "error",
         "typo/generated", "wrong.py", "right.py"],
        cwd=root, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    pattern = r"(?P<path>/[^:]+\.py):(?P<line>\d+):\d+ - error:"
    return _errors(proc.stdout, pattern, root), proc.stdout


def test_corpus_size() -> None:
    assert len(_marked(HERE / "corpus" / "wrong.py")) >= 30
    assert _snippets(HERE / "corpus" / "right.py") >= 10


@pytest.mark.parametrize("checker", [_mypy, _pyright], ids=["mypy", "basedpyright"])
def test_each_wrong_usage_is_an_error_at_its_line_and_nothing_else_is(
    project: Path, checker: object
) -> None:
    assert callable(checker)
    errors, output = checker(project)
    assert errors.get("wrong.py", set()) == _marked(project / "wrong.py"), output
    others = {path: lines for path, lines in errors.items() if path != "wrong.py"}
    assert others == {}, output  # right.py and the generated package are clean

"""Issue 10 item 16: hostile source trees end in ``path:line:col: QG###`` diagnostics, never a
hang, a crash or "internal error".

Symlink loops, dangling ``.py`` links and FIFOs are skipped with a QG006 warning (the build
goes on); files over the size limit, over-long lines and expressions nested past the limit are
refused with QG007 before libcst sees them. Every build runs in a subprocess with a deadline, so
a regression fails the test instead of wedging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qgen.codegen.scan.guards import MAX_EXPR_DEPTH, MAX_LINE_BYTES, MAX_SOURCE_BYTES

GOOD = """
from pydantic import BaseModel
from qgen import sessionless_func, wire_queue_worker


class Data(BaseModel):
    n: int


@sessionless_func()
async def job(services: object, data: Data) -> None:
    return None


wire_queue_worker(queue="ok", func=job)
"""
DEADLINE = 90  # seconds; each build here takes a few seconds at most


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "tree"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["app"]\nout = "app/generated"\n', encoding="utf-8"
    )
    (project / "app" / "__init__.py").write_text("", encoding="utf-8")
    (project / "app" / "jobs.py").write_text(GOOD, encoding="utf-8")
    return project


def _qgen(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "qgen"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symlinks")
def test_links_and_fifos_are_skipped_with_a_warning(tmp_path: Path) -> None:
    project = _project(tmp_path)
    app = project / "app"
    (app / "loop.py").symlink_to("loop.py")
    (app / "gone.py").symlink_to("nowhere.py")
    os.mkfifo(app / "pipe.py")
    (app / "sub").mkdir()
    (app / "sub" / "__init__.py").write_text("", encoding="utf-8")
    (app / "sub" / "cycle").symlink_to("..", target_is_directory=True)  # a directory loop
    for command in ("build", "check", "build"):
        proc = _qgen(project, command)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout + proc.stderr
        assert "internal error" not in out and "Traceback" not in out
        assert "app/loop.py:1:1: QG006 warning: skipped: a symbolic link loop" in out
        assert "app/gone.py:1:1: QG006 warning: skipped: a dangling symbolic link" in out
        assert "app/pipe.py:1:1: QG006 warning: skipped: not a regular file" in out
    assert (app / "generated" / "client.py").is_file()


def _refused(tmp_path: Path, source: bytes | str) -> str:
    project = _project(tmp_path)
    data = source.encode() if isinstance(source, str) else source
    (project / "app" / "hostile.py").write_bytes(data)
    proc = _qgen(project, "build")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "Traceback" not in out and "internal error" not in out
    assert not (project / "app" / "generated").exists()  # nothing written
    return out


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    line = b"# " + b"x" * 97 + b"\n"
    out = _refused(tmp_path, line * (MAX_SOURCE_BYTES // len(line) + 1))
    assert "app/hostile.py:1:1: QG007 not scanned: " in out
    assert f"over qgen's limit of {MAX_SOURCE_BYTES}" in out


def test_a_line_of_absurd_length_is_refused_with_its_position(tmp_path: Path) -> None:
    terms = " + ".join(["1"] * 20_000)  # the one-line 20,000-term expression of the issue
    out = _refused(tmp_path, f"x = 1\n\ny = {terms}\n")
    assert f"app/hostile.py:3:{MAX_LINE_BYTES + 1}: QG007 not scanned: line 3 is" in out


@pytest.mark.parametrize("link", [" +\n    a", "\n    .b"])
def test_an_expression_nested_too_deep_is_refused(tmp_path: Path, link: str) -> None:
    chain = "a" + link * 20_000  # the expression over many short lines; an attribute chain
    out = _refused(tmp_path, f"import os\n\nx = (\n    {chain}\n)\n")
    assert "app/hostile.py:" in out and ": QG007 not scanned: " in out
    assert f"nested more than {MAX_EXPR_DEPTH} levels deep" in out or "too deeply" in out

"""Issue 10 item 17: generated code passes ``ruff check --isolated`` (ruff's default rules), and
the repository's own ruff configuration checks the committed generated code instead of
excluding it, so CI keeps it clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden.harness import build_case, out_dir

REPO = Path(__file__).resolve().parents[2]
RUFF = [str(Path(sys.executable).parent / "ruff")]


def _ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUFF, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize("case", ["shop", "kinds", "hostile"])
def test_generated_code_is_clean_under_ruff_isolated(tmp_path: Path, case: str) -> None:
    generated = out_dir(build_case(case, tmp_path))
    proc = _ruff("check", "--isolated", "--no-cache", str(generated), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_repository_config_lints_the_committed_generated_code() -> None:
    targets = ["examples/shop/shop/generated", "bench/app/benchapp/generated"]
    listed = _ruff("check", "--show-files", *targets, cwd=REPO).stdout
    for target in targets:
        assert f"{target}/client.py" in listed and f"{target}/models.py" in listed, listed
    golden = _ruff("check", "--show-files", "tests/golden/cases", cwd=REPO).stdout
    assert "tests/golden/cases/shop/expected/client.py" in golden, golden
    proc = _ruff("check", "--no-cache", *targets, "tests/golden/cases", cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr

"""`qgen dashboard` refuses what would not be safe before it binds anything."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qgen.cli import main


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_a_non_loopback_address_needs_a_token(
    built_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QGEN_DASHBOARD_TOKEN", raising=False)
    code, text = run("dashboard", "--project", str(built_project), "--host", "0.0.0.0")
    assert code == 2
    assert "refusing to serve the dashboard on 0.0.0.0 without a token" in text


def test_a_short_token_is_refused(built_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QGEN_DASHBOARD_TOKEN", "tiny")
    code, text = run("dashboard", "--project", str(built_project), "--host", "0.0.0.0")
    assert code == 2 and "at least 16 characters" in text


def test_a_project_that_was_not_built(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.qgen]\nsource = ["x"]\nout = "x/gen"\n')
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "__init__.py").write_text("")
    code, text = run("dashboard", "--project", str(tmp_path))
    assert code == 2 and "run `qgen build`" in text

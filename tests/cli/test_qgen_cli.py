"""The `qgen` command line: help, config diagnostics, list, migrate, sqs create-queues, and no
tracebacks."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from qgen.cli import main
from tests.golden.harness import build_case, copy_case, run_cli, run_subprocess


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    "argv",
    [[], ["build"], ["check"], ["list"], ["setup"], ["migrate"], ["sqs"], ["sqs", "create-queues"]],
)
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: qgen")
    assert len(text.splitlines()) > 3


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_pyproject(tmp_path: Path) -> None:
    code, _, err = _run("build", "--project", str(tmp_path))
    assert code == 2
    assert err.startswith("pyproject.toml:1:1: QG003 no pyproject.toml found")


def test_missing_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    code, _, err = _run("build", "--project", str(tmp_path))
    assert code == 2
    assert "QG003 [tool.qgen] source is missing" in err
    assert "QG003 [tool.qgen] out is missing" in err


def test_flags_override_config(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    code, _, err = run_cli(project, "build", "--out", "shop/other_out", "--services", "")
    assert code == 0, err
    manifest = json.loads((project / "shop" / "other_out" / "manifest.json").read_text())
    assert manifest["out_package"] == "shop.other_out"
    assert manifest["services"] is None
    assert manifest["project_root"] == "../.."
    assert not (project / "shop" / "generated").exists()


def test_walks_up_to_the_nearest_pyproject(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    proc = run_subprocess(project / "shop" / "functions", "build")
    assert proc.returncode == 0, proc.stderr
    assert (project / "shop" / "generated" / "client.py").is_file()


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    (project / "shop" / "generated").write_text("not a dir")
    code, _, err = run_cli(project, "build")
    assert code == 2 and "shop/generated:1:1: QG004" in err


def test_unexpected_exception_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qgen.codegen.build

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyError("kaboom")

    monkeypatch.setattr(qgen.codegen.build, "run", boom)
    project = copy_case("shop", tmp_path)
    code, out, err = run_cli(project, "build")
    assert code == 2
    assert err == "qgen: internal error: KeyError: 'kaboom'\n"
    assert "Traceback" not in out + err


def test_list_table(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    code, out, _ = run_cli(project, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["QUEUE", "FUNCTION", "INPUT", "->", "OUTPUT"]
    assert lines[1].split() == [
        "emails",
        "shop.functions.email:send_welcome_email",
        "WelcomeEmail",
        "->",
        "None",
    ]
    assert lines[4].split() == [
        "payments",
        "shop.functions.payment:process_payment",
        "PaymentRequest",
        "->",
        "PaymentResult",
    ]
    assert "config: attempts=5" in out and '"dead_letter"' not in out
    assert "warnings: postgres 1, sqlite 1, sqs 2" in out
    assert "payments [sqs]:" in out
    code, out, _ = run_cli(project, "list", "--json")
    rows = json.loads(out)
    assert [r["queue"] for r in rows] == ["emails", "payments", "publish-article"]
    assert rows[0]["output"] == "None"


def test_list_with_errors_exits_2(tmp_path: Path) -> None:
    project = copy_case("diag_rules", tmp_path)
    code, out, err = run_cli(project, "list")
    assert code == 2 and "QG106" in err and out == ""


def test_migrate_needs_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QGEN_URL", raising=False)
    code, _, err = _run("migrate")
    assert code == 2 and "no URL" in err


def test_migrate_postgres() -> None:
    from tests.support.postgres import drop_schema, new_schema, schema_url

    schema = new_schema()
    url = schema_url(schema)
    try:
        code, out, err = _run("migrate", "--url", url)
        assert code == 0, err
        assert out.startswith("qgen: applied migrations 1")
        code, out, _ = _run("migrate", "--url", url)
        assert code == 0 and out == "qgen: database schema is up to date\n"
    finally:
        drop_schema(schema)


def test_sqs_create_queues(tmp_path: Path) -> None:
    from tests.support.sqs import backend_url

    project = build_case("shop", tmp_path)
    with backend_url(tmp_path) as url:
        code, out, err = run_cli(project, "sqs", "create-queues", "--url", url)
        assert code == 0, err
        names = out.splitlines()
        assert any(n.endswith("payments") for n in names)
        assert any(n.endswith("publish-article") for n in names)


def test_sqs_create_queues_without_build(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    code, _, err = run_cli(project, "sqs", "create-queues", "--url", "sqs://us-east-1")
    assert code == 2 and "run `qgen build`" in err and "Traceback" not in err

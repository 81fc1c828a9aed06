"""What `qgen build` / `qgen check` promise: determinism, atomicity, ownership, staleness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.golden.harness import (
    build_case,
    copy_case,
    out_dir,
    read_tree,
    run_cli,
    run_subprocess,
)


def test_same_bytes_with_different_hash_seeds_and_paths(tmp_path: Path) -> None:
    trees = []
    for seed in ("0", "1"):
        project = copy_case("kinds", tmp_path / f"seed{seed}")
        proc = run_subprocess(project, "build", env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        trees.append(read_tree(out_dir(project)))
    assert trees[0] == trees[1]
    assert trees[0]  # something was generated


def test_second_build_is_skipped_and_forced_build_rewrites_nothing(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    before = read_tree(out_dir(project))
    code, out, _ = run_cli(project, "build")
    assert code == 0 and "is up to date" in out
    code, out, _ = run_cli(project, "build", "--force")
    assert code == 0 and "wrote 0 file(s)" in out, out
    assert read_tree(out_dir(project)) == before


def test_a_warm_build_loads_neither_the_runtime_nor_the_scanner(tmp_path: Path) -> None:
    """Start-up is most of a warm build: `qgen build` with nothing changed imports no pydantic,
    asyncio, libcst or jinja2 (the operator commands and the public API load them lazily)."""
    project = build_case("shop", tmp_path)
    script = (
        "import json, sys\n"
        "from qgen.cli import main\n"
        f"code = main(['build', '--project', {str(project)!r}])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    code, modules = json.loads(proc.stdout.splitlines()[-1])
    assert code == 0
    heavy = {"pydantic", "asyncio", "libcst", "jinja2", "qgen.runtime.client"}
    loaded = [m for m in modules if m in heavy or m.startswith("qgen.runtime.")]
    assert heavy.isdisjoint(modules), (
        f"{sorted(heavy.intersection(modules))} loaded: a module qgen/cli.py imports at its top "
        f"(or one the codegen commands import) imports the runtime at its own top; import it "
        f"where it is used. Runtime modules loaded: {sorted(loaded)}"
    )
    assert "qgen.codegen.build" in modules  # it did run the build command


def test_warm_check_notices_a_tampered_output(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    target = out_dir(project) / "client.py"
    original = target.read_bytes()
    target.write_bytes(original + b"# edited\n")
    code, out, _ = run_cli(project, "build")
    assert code == 0 and "wrote 1 file(s)" in out, out
    assert target.read_bytes() == original


def test_source_change_rebuilds(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    payment = project / "shop" / "functions" / "payment.py"
    payment.write_text(
        payment.read_text().replace("transaction_id: str", "transaction_id: str\n    fee: int = 0")
    )
    code, out, _ = run_cli(project, "build")
    assert code == 0 and "up to date" not in out
    assert "fee" in (out_dir(project) / "models.py").read_text()


def test_broken_source_leaves_previous_output_untouched(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    out = out_dir(project)
    before = read_tree(out)
    stamps = {p: os.stat(out / p).st_mtime_ns for p in before}
    (project / "shop" / "queues.py").write_text("def broken(:\n", encoding="utf-8")
    code, stdout, stderr = run_cli(project, "build")
    assert code == 2
    assert "shop/queues.py:1:12: QG001" in stderr
    assert "nothing written" in stdout
    assert read_tree(out) == before
    assert {p: os.stat(out / p).st_mtime_ns for p in before} == stamps


def test_error_diagnostic_leaves_previous_output_untouched(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    before = read_tree(out_dir(project))
    queues = project / "shop" / "queues.py"
    queues.write_text(queues.read_text().replace('"emails"', '"e mails"'))
    code, _, stderr = run_cli(project, "build")
    assert code == 2 and "QG101" in stderr
    assert read_tree(out_dir(project)) == before


def test_fail_on_warning(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    code, out, err = run_cli(project, "build", "--fail-on-warning")
    assert code == 2 and "QG302" in err and "nothing written" in out
    assert not out_dir(project).exists()


def test_never_touches_files_it_did_not_generate(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    out = out_dir(project)
    (out / "notes.txt").write_text("mine")
    (out / "schemas" / "mine.json").write_text("{}")
    (out / "helpers.py").write_text("# my own module\n")
    # Remove the emails queue: its schema goes, the user's files stay.
    queues = project / "shop" / "queues.py"
    queues.write_text(
        queues.read_text().replace(
            'wire_queue_worker(queue="emails", func=email.send_welcome_email, '
            'config={"attempts": 3})\n',
            "",
        )
    )
    code, stdout, stderr = run_cli(project, "build")
    assert code == 0, stdout + stderr
    assert not (out / "schemas" / "emails.input.json").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "schemas" / "mine.json").read_text() == "{}"
    assert (out / "helpers.py").read_text() == "# my own module\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "emails" not in manifest["queues"]


def test_refuses_to_overwrite_a_foreign_file(tmp_path: Path) -> None:
    project = copy_case("shop", tmp_path)
    out = out_dir(project)
    out.mkdir(parents=True)
    (out / "client.py").write_text("# hand-written client\n")
    code, _, stderr = run_cli(project, "build")
    assert code == 2
    assert "shop/generated/client.py:1:1: QG004" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["client.py"]
    assert (out / "client.py").read_text() == "# hand-written client\n"


def test_check_fresh_stale_missing_extra(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    out = out_dir(project)
    assert run_cli(project, "check")[0] == 0
    client = out / "client.py"
    client.write_text(client.read_text().replace("queues=QUEUES", "queues={}", 1))
    (out / "workers" / "redis.py").unlink()
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "schemas" / "old.input.json").write_text("{}")
    manifest["build"]["files"]["schemas/old.input.json"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, stdout, _ = run_cli(project, "check")
    assert code == 1
    assert "queues={}" in stdout and "queues=QUEUES" in stdout
    assert "changed: shop/generated/client.py" in stdout
    assert "missing: shop/generated/workers/redis.py" in stdout
    assert "extra:   shop/generated/schemas/old.input.json" in stdout
    # check never writes
    assert not (out / "workers" / "redis.py").exists()


def test_check_reports_errors_with_exit_2(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    (project / "shop" / "queues.py").write_text("x = (\n")
    code, _, stderr = run_cli(project, "check")
    assert code == 2 and "QG001" in stderr


def test_client_does_not_import_user_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    project = build_case("shop", tmp_path)
    probe = (
        "import sys, shop.generated.client, shop.generated.workers.sqlite\n"
        "print(sorted(m for m in sys.modules if m.startswith('shop')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "['shop', 'shop.generated', 'shop.generated.client', 'shop.generated.models', "
        "'shop.generated.workers', 'shop.generated.workers.sqlite']"
    )


def test_local_state_is_git_ignored(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    assert (project / ".qgen" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_files_of_a_build_killed_half_way_are_still_owned(tmp_path: Path) -> None:
    """New files are written in place, listed in a journal first: a killed build's leftovers
    (even a half-written JSON file, which has no banner) are qgen's on the next build."""
    project = copy_case("shop", tmp_path)
    out = out_dir(project)
    (out / "schemas").mkdir(parents=True)
    (out / "schemas" / "payments.input.json").write_text('{"half": ')
    (out / "schemas" / "gone.input.json").write_text("{")
    (out / ".qgen-new-files").write_text(
        json.dumps(["schemas/payments.input.json", "schemas/gone.input.json"])
    )
    code, stdout, stderr = run_cli(project, "build")
    assert code == 0, stdout + stderr
    assert json.loads((out / "schemas" / "payments.input.json").read_text())["type"] == "object"
    assert not (out / "schemas" / "gone.input.json").exists()
    assert not (out / ".qgen-new-files").exists()
    assert run_cli(project, "check")[0] == 0

"""Golden cases: the full CLI output and the whole generated tree of each case.

Regenerate with ``QGEN_REGEN=1 pytest tests/golden -q`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden.harness import (
    CASES,
    REGEN,
    case_names,
    copy_case,
    out_dir,
    read_tree,
    run_cli,
    snapshot,
    write_tree,
)


@pytest.mark.parametrize("case", case_names())
def test_case(case: str, tmp_path: Path) -> None:
    project = copy_case(case, tmp_path)
    code, out, err = run_cli(project, "build")
    cli = snapshot(code, out, err, project)
    tree = read_tree(out_dir(project))
    expected_dir = CASES / case / "expected"
    if REGEN:
        (CASES / case / "cli.txt").write_text(cli, encoding="utf-8")
        write_tree(expected_dir, tree)
        if not tree and expected_dir.exists():
            expected_dir.rmdir()
    assert cli == (CASES / case / "cli.txt").read_text(encoding="utf-8")
    expected = read_tree(expected_dir)
    assert sorted(tree) == sorted(expected)
    for rel, data in expected.items():
        assert tree[rel].decode() == data.decode(), rel
    if code != 0:
        assert not out_dir(project).exists(), "a failed build must write nothing"


def test_every_case_has_expectations() -> None:
    for case in case_names():
        assert (CASES / case / "cli.txt").is_file(), f"{case}: run QGEN_REGEN=1 pytest tests/golden"

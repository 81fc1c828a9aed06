"""Output rules: callers deployed with the old client must still read what the new worker
returns. Each case locks a real project, changes its source, and runs `qgen check --explain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.lock.lock_project import (
    annotation,
    errors,
    marked,
    qgen,
    schema,
    source,
    valid,
    write_project,
)
from tests.lock.rule_cases import OUTPUT_RULES, Rule


@pytest.mark.parametrize("rule", OUTPUT_RULES, ids=[r.id for r in OUTPUT_RULES])
def test_output_rule(tmp_path: Path, rule: Rule) -> None:
    old = source(rule.old, output=rule.old_type or "Out")
    project = write_project(tmp_path, old)
    code, _, err = qgen(project, "lock")
    assert code == 0, err
    before = schema(project, "output")
    new = source(rule.new, output=rule.new_type or "Out")
    (project / "shop" / "jobs.py").write_text(new, encoding="utf-8")
    code, _, err = qgen(project, "build")
    assert code == 0, err
    after = schema(project, "output")
    # A breaking change has a new result the old callers' schema refuses.
    assert valid(after, rule.example)
    assert valid(before, rule.example) is not bool(rule.code)

    code, out, err = qgen(project, "check", "--explain")
    line, col = marked(new) if rule.where == "mark" else annotation(new, "output")
    where = f"shop/jobs.py:{line}:{col}:"
    if rule.code:
        assert code == 1, out + err
        assert errors(err) == [f"{where} {rule.code} queue 'q' output: {rule.message}"]
    else:
        assert code == 0, out + err
        assert errors(err) == []
        assert f"{where} queue 'q' output: {rule.message}" in out.splitlines()

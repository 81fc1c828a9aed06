"""Input rules: old jobs still waiting must validate with the new worker. Each case locks a real
project, changes its source, and runs `qgen check --explain`."""

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
from tests.lock.rule_cases import INPUT_RULES, Rule


@pytest.mark.parametrize("rule", INPUT_RULES, ids=[r.id for r in INPUT_RULES])
def test_input_rule(tmp_path: Path, rule: Rule) -> None:
    old = source(rule.old, input=rule.old_type or "In")
    project = write_project(tmp_path, old)
    code, _, err = qgen(project, "lock")
    assert code == 0, err
    before = schema(project, "input")
    new = source(rule.new, input=rule.new_type or "In")
    (project / "shop" / "jobs.py").write_text(new, encoding="utf-8")
    code, _, err = qgen(project, "build")
    assert code == 0, err
    after = schema(project, "input")
    # The verdict follows JSON Schema: a breaking change has an old job the new schema refuses.
    assert valid(before, rule.example)
    assert valid(after, rule.example) is not bool(rule.code)

    code, out, err = qgen(project, "check", "--explain")
    line, col = marked(new) if rule.where == "mark" else annotation(new, "input")
    where = f"shop/jobs.py:{line}:{col}:"
    if rule.code:
        assert code == 1, out + err
        assert errors(err) == [f"{where} {rule.code} queue 'q' input: {rule.message}"]
        assert "run `qgen lock`" in out
    else:
        assert code == 0, out + err
        assert errors(err) == []
        assert f"{where} queue 'q' input: {rule.message}" in out.splitlines()

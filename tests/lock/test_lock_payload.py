"""The payload check `qgen check --url` will build on: a queued payload against the current input
schema, explained with the lock's history."""

from __future__ import annotations

from pathlib import Path

from qgen.codegen.build import analyse
from qgen.codegen.lock.payload import PayloadProblem, check_payload, histories
from qgen.codegen.lock.store import read_lock
from qgen.config import Overrides, load_config
from tests.lock.lock_project import qgen, source, write_project

V1 = "class In(BaseModel):\n    a: int\n    s: str = ''\n"
V2 = "class In(BaseModel):\n    a: int\n    s: str = Field('', max_length=3)\n    currency: str\n"


def test_old_payload_against_the_new_schema(tmp_path: Path) -> None:
    project = write_project(tmp_path, source(V1))
    assert qgen(project, "lock")[0] == 0
    (project / "shop" / "jobs.py").write_text(source(V2), encoding="utf-8")
    config, diags = load_config(project, Overrides(project=project))
    assert config is not None, diags
    analysed = analyse(config)
    assert analysed.project is not None
    lock = read_lock(project)
    assert lock is not None
    spec = analysed.project.queues[0]
    history = histories(lock, analysed.project)["q"]

    report = check_payload("q", spec.function.input_schema, {"a": 1, "s": "long"}, history)
    assert not report.valid
    assert report.problems == (
        PayloadProblem(("currency",), "'currency' is a required property"),
        PayloadProblem(("s",), "'long' is too long"),
    )
    assert report.hint == (
        "this job was likely made by schema version 1 of queue 'q'; changes since: "
        "field 'currency' added as required (not locked yet); field 's': maxLength 3 added "
        "(not locked yet)"
    )
    good = check_payload("q", spec.function.input_schema, {"a": 1, "currency": "EUR"}, history)
    assert good.valid and good.hint == ""


def test_two_missing_fields_are_both_named() -> None:
    schema = {"type": "object", "required": ["a", "b", "c"], "properties": {}}
    report = check_payload("q", schema, {"b": 1})
    assert [p.path for p in report.problems] == [("a",), ("c",)]
    assert report.hint == ""


def test_long_messages_are_cut() -> None:
    report = check_payload("q", {"type": "integer"}, "x" * 1000)
    assert len(report.problems[0].message) == 200

"""`qgen lock` and the lock half of `qgen check`: the file, versions and history, queues added and
removed, unusable locks, and the manifest section workers read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qgen.cli import main
from tests.lock.lock_project import annotation, errors, qgen, source, write_project

V1 = "class In(BaseModel):\n    a: int\n"
V2 = "class In(BaseModel):\n    a: int\n    currency: str\n"  # currency: required, added
TWO_QUEUES = '\nwire_queue_worker(queue="r", func=job)\n'


def _lock(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project / "qgen.lock.json").read_text(encoding="utf-8"))
    return data


def _manifest(project: Path) -> dict[str, Any]:
    path = project / "shop" / "generated" / "manifest.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _edit(project: Path, module: str) -> None:
    (project / "shop" / "jobs.py").write_text(module, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_project(tmp_path / "p", source(V1))
    code, out, err = qgen(root, "lock")
    assert code == 0, err
    assert out.splitlines()[:2] == ["qgen: wrote qgen.lock.json", "  'q': version 1 (new)"]
    return root


def test_lock_file_is_deterministic(project: Path, tmp_path: Path) -> None:
    text = (project / "qgen.lock.json").read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert data["format"] == 1
    entry = data["queues"]["q"]
    assert entry["version"] == 1 and entry["history"] == []
    assert entry["input"]["required"] == ["a"] and entry["output"]["required"] == ["ok"]
    code, out, _ = qgen(project, "lock")
    assert code == 0 and out.startswith("qgen: qgen.lock.json is up to date")
    assert (project / "qgen.lock.json").read_text(encoding="utf-8") == text
    other = write_project(tmp_path / "other", source(V1))  # same source elsewhere: same bytes
    assert qgen(other, "lock")[0] == 0
    assert (other / "qgen.lock.json").read_text(encoding="utf-8") == text


def test_breaking_change_fails_until_locked(project: Path) -> None:
    _edit(project, source(V2))
    assert qgen(project, "build")[0] == 0
    before = (project / "qgen.lock.json").read_bytes()
    code, out, err = qgen(project, "check")
    assert code == 1
    assert errors(err) == [
        "shop/jobs.py:14:5: QG401 queue 'q' input: field 'currency' added as required"
    ]
    assert "1 breaking schema change(s) against qgen.lock.json" in out
    assert (project / "qgen.lock.json").read_bytes() == before  # check never writes the lock
    manifest = _manifest(project)["schema_lock"]["q"]
    assert manifest == {
        "locked": 1,
        "breaking": [
            {
                "version": None,
                "field": ["currency"],
                "message": "field 'currency' added as required",
            }
        ],
    }

    code, out, err = qgen(project, "lock")
    assert code == 0, err
    assert "  'q': version 1 -> 2, 1 breaking change(s) accepted" in out.splitlines()
    entry = _lock(project)["queues"]["q"]
    assert entry["version"] == 2
    assert entry["input"]["required"] == ["a", "currency"]
    assert entry["history"] == [
        {
            "version": 2,
            "changes": [
                {
                    "direction": "input",
                    "code": "QG401",
                    "breaking": True,
                    "field": ["currency"],
                    "message": "field 'currency' added as required",
                }
            ],
        }
    ]
    code, out, err = qgen(project, "check")
    assert code == 0, out + err
    assert _manifest(project)["schema_lock"]["q"]["breaking"][0]["version"] == 2


def test_compatible_change_passes_and_updates_nothing(project: Path) -> None:
    _edit(project, source(V1 + "    note: str = ''\n"))
    assert qgen(project, "build")[0] == 0
    before = (project / "qgen.lock.json").read_bytes()
    code, out, err = qgen(project, "check")
    assert code == 0 and errors(err) == []
    assert "1 compatible schema change(s) not yet in qgen.lock.json (--explain lists them)" in out
    assert (project / "qgen.lock.json").read_bytes() == before
    code, out, _ = qgen(project, "check", "--explain")
    assert code == 0
    assert "shop/jobs.py:14:5: queue 'q' input: field 'note' added" in out.splitlines()
    assert qgen(project, "lock")[0] == 0
    assert _lock(project)["queues"]["q"]["version"] == 2


def test_queue_removed_and_added(project: Path) -> None:
    _edit(project, source(V1) + TWO_QUEUES)
    assert qgen(project, "lock")[0] == 0
    lock_text = (project / "qgen.lock.json").read_text(encoding="utf-8")
    line = lock_text.splitlines().index('    "r": {') + 1
    _edit(project, source(V1))
    assert qgen(project, "build")[0] == 0
    code, out, err = qgen(project, "check")
    assert code == 1
    assert errors(err) == [
        f"qgen.lock.json:{line}:5: QG408 queue 'r' removed while it may still hold jobs: drain "
        "it (no job waiting, delayed or retrying), then run `qgen lock`"
    ]
    assert qgen(project, "lock")[0] == 0
    assert sorted(_lock(project)["queues"]) == ["q"]
    _edit(project, source(V1) + TWO_QUEUES)
    assert qgen(project, "build")[0] == 0
    code, out, err = qgen(project, "check", "--explain")
    assert code == 0 and errors(err) == []
    wired = len(source(V1).splitlines()) + 2
    assert f"shop/jobs.py:{wired}:1: queue 'r' added" in out.splitlines()


def test_result_removed_and_added(project: Path) -> None:
    no_result = source(V1, output="None")
    _edit(project, no_result)
    assert qgen(project, "build")[0] == 0
    code, _, err = qgen(project, "check")
    line, col = annotation(no_result, "output")
    assert code == 1
    assert errors(err) == [
        f"shop/jobs.py:{line}:{col}: QG403 queue 'q' output: no longer returns a result"
    ]
    assert qgen(project, "lock")[0] == 0
    _edit(project, source(V1))
    assert qgen(project, "build")[0] == 0
    code, out, err = qgen(project, "check", "--explain")
    assert code == 0 and errors(err) == []
    assert "queue 'q' output: now returns a result (old callers ignore it)" in out


def test_stale_output_and_breaking_change_both_reported(project: Path) -> None:
    _edit(project, source(V2))
    code, out, err = qgen(project, "check")
    assert code == 1
    assert "qgen: shop/generated is stale; run `qgen build`" in out
    assert any("QG401" in line for line in errors(err))


def test_no_lock_means_no_lock_check(tmp_path: Path) -> None:
    root = write_project(tmp_path, source(V1))
    assert qgen(root, "build")[0] == 0
    _edit(root, source(V2))
    assert qgen(root, "build")[0] == 0
    code, out, err = qgen(root, "check")
    assert code == 0 and errors(err) == [] and "lock" not in out
    assert "schema_lock" not in _manifest(root)  # no lock: the manifest is as before
    code, out, _ = qgen(root, "check", "--explain")
    assert code == 0 and "no qgen.lock.json; run `qgen lock`" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{\n  "format": 1,\n  "queues": {,\n}\n', "qgen.lock.json:3:14: QG400 qgen.lock.json "
         "is not valid JSON: Expecting property name enclosed in double quotes"),
        ('{"format": 2, "queues": {}}', "qgen.lock.json:1:1: QG400 qgen.lock.json is not a qgen "
         "lock (format 1): format: Input should be 1; fix it or delete it and run `qgen lock`"),
    ],
)  # fmt: skip
def test_unusable_lock(project: Path, text: str, expected: str) -> None:
    (project / "qgen.lock.json").write_text(text, encoding="utf-8")
    code, _, err = qgen(project, "check")
    assert code == 2 and errors(err) == [expected]
    code, _, err = qgen(project, "lock")
    assert code == 2 and errors(err) == [expected]
    assert (project / "qgen.lock.json").read_text(encoding="utf-8") == text


def test_bad_queue_entry_points_at_its_line(project: Path) -> None:
    data = _lock(project)
    data["queues"]["q"]["version"] = 0
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    (project / "qgen.lock.json").write_text(text, encoding="utf-8")
    line = text.splitlines().index('    "q": {') + 1
    code, _, err = qgen(project, "check")
    assert code == 2
    assert errors(err)[0].startswith(f"qgen.lock.json:{line}:5: QG400 ")
    assert "queues.q.version: Input should be greater than or equal to 1" in err


def test_lock_refuses_a_project_with_errors(tmp_path: Path) -> None:
    root = write_project(tmp_path, source(V1).replace("data: In", "data: Missing"))
    code, out, err = qgen(root, "lock")
    assert code == 2 and "QG002" in err and "qgen.lock.json not written" in out
    assert not (root / "qgen.lock.json").exists()


def test_build_notices_a_changed_lock(project: Path) -> None:
    """The lock is an input of the build: a lock changed by hand (e.g. a merge) is not hidden
    by the warm-build shortcut."""
    v1_lock = (project / "qgen.lock.json").read_bytes()
    _edit(project, source(V2))
    assert qgen(project, "lock")[0] == 0
    assert _manifest(project)["schema_lock"]["q"]["locked"] == 2
    (project / "qgen.lock.json").write_bytes(v1_lock)
    code, out, _ = qgen(project, "build")
    assert code == 0 and "up to date" not in out
    assert _manifest(project)["schema_lock"]["q"]["locked"] == 1


def test_lock_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock", "--help"]) == 0
    assert "qgen.lock.json" in capsys.readouterr().out
    assert main(["check", "--help"]) == 0
    assert "--explain" in capsys.readouterr().out


def test_lock_refuses_what_json_cannot_carry(tmp_path: Path) -> None:
    """An infinite default is refused where it is written (QG204), and no lock is written."""
    root = write_project(tmp_path, source("class In(BaseModel):\n    x: float = 1e999\n"))
    code, out, err = qgen(root, "lock")
    assert code == 2 and "QG204" in err, err
    assert "not written" in out and not (root / "qgen.lock.json").exists()

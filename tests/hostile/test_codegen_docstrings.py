"""Issue 10 item 3: characters in docstrings never cost a generated model a field.

Line separators (U+2028/U+2029, NEL), form feeds, vertical tabs, file/group/record separators
and carriage returns inside class docstrings and field descriptions once made the generated
model lose its last field or stopped the build. The generated models' fields must match the
JSON Schemas', for every queue of a corpus holding each of these characters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.golden.harness import out_dir, run_cli

HOSTILE = ["\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\r", "\r\n"]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "docs"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["app"]\nout = "app/generated"\n', encoding="utf-8"
    )
    (project / "app" / "__init__.py").write_text("", encoding="utf-8")
    lines = [
        "from pydantic import BaseModel, Field",
        "from qgen import sessionless_func, wire_queue_worker",
        "",
    ]
    for i, char in enumerate(HOSTILE):
        doc = f"Doc {i}{char}after{char}{char}end".encode("unicode_escape").decode()
        desc = f"field{char}desc {i}".encode("unicode_escape").decode()
        lines += [
            f"class Nested{i}(BaseModel):",
            f'    """{doc}"""',
            "",
            f'    inner: int = Field(default=0, description="{desc}")',
            "    tail: str = 'x'",
            "",
            f"class Model{i}(BaseModel):",
            f'    """{doc}"""',
            "",
            "    first: int",
            f'    middle: str = Field(default="m", description="{desc}")',
            f"    nested: Nested{i} | None = None",
            "    last: int = 7",
            "",
            "@sessionless_func()",
            f"async def job{i}(services: object, data: Model{i}) -> Nested{i}:",
            f"    return Nested{i}()",
            "",
            f'wire_queue_worker(queue="q{i}", func=job{i})',
            "",
        ]
    (project / "app" / "jobs.py").write_text("\n".join(lines), encoding="utf-8")
    return project


PROBE = """
import json, sys
from pathlib import Path
from app.generated import client

def fields(model):
    return sorted(f.alias or n for n, f in model.model_fields.items())

def required(model):
    return sorted(f.alias or n for n, f in model.model_fields.items() if f.is_required())

report = {}
base = Path(client.__file__).parent / "schemas"
for name, meta in client.QUEUES.items():
    for side, model in (("input", meta.input_type), ("output", meta.output_type)):
        schema = json.loads((base / f"{name}.{side}.json").read_text(encoding="utf-8"))
        report[f"{name}.{side}"] = {
            "schema": [sorted(schema["properties"]), sorted(schema.get("required", []))],
            "model": [fields(model), required(model)],
            "doc": model.__doc__,
        }
print(json.dumps(report))
"""


def test_generated_models_keep_every_field_whatever_the_docstrings_hold(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out, err = run_cli(project, "build")
    assert code == 0, out + err
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=project, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert len(report) == 2 * len(HOSTILE)
    for where, got in report.items():
        assert got["model"] == got["schema"], where
        assert "after" in got["doc"] and "end" in got["doc"], where
    models = (out_dir(project) / "models.py").read_text(encoding="utf-8")
    assert models.count("last: int = 7") == len(HOSTILE)

"""The on-disk cache (a changed file is parsed again, an unchanged one is not), parallel and
serial scans agreeing, and determinism across PYTHONHASHSEED values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from scan_helpers import messages, scan, write

from qgen.codegen.scan import ScanResult

JOB = """
from pydantic import BaseModel
from qgen import sessionless_func, wire_queue_worker
from shop.models import Shared

class In{i}(BaseModel):
    shared: Shared
    tags: set[str] = {"a"}
    n: int = {i}

@sessionless_func
def job{i}(services, data: In{i}) -> Shared | None: ...

wire_queue_worker(queue="q{i}", func=job{i}, config={"attempts": 2})
"""
MODELS = """
from typing import Literal
from pydantic import BaseModel

class Shared(BaseModel):
    kind: Literal["x", "y", "z"] = "x"
    values: dict[str, list[int]] = {}
"""


def make(root: Path, n: int = 30) -> Path:
    files = {"shop/__init__.py": "", "shop/models.py": MODELS}
    for i in range(n):
        files[f"shop/jobs/j{i:02d}.py"] = JOB.replace("{i}", str(i))
    files["shop/jobs/__init__.py"] = ""
    return write(root, files)


def dump(result: ScanResult) -> str:
    return json.dumps(
        {"project": asdict(result.project), "diags": messages(result), "hash": result.inputs_hash},
        sort_keys=True,
    )


def test_cache_hit_and_miss(tmp_path: Path) -> None:
    root = make(tmp_path)
    cache = tmp_path / ".qgen-cache"
    first = scan(root, cache_dir=cache)
    assert first.parsed == 31 + 2  # every module, both __init__.py files
    assert len(first.project.queues) == 30
    # nothing changed: no parsing at all, the same result
    again = scan(root, cache_dir=cache)
    assert again.parsed == 0
    assert dump(again) == dump(first)
    # one file changed: only it is parsed again, and the change shows
    path = root / "shop/models.py"
    path.write_text(path.read_text().replace('"x", "y", "z"', '"x", "y"'))
    changed = scan(root, cache_dir=cache)
    assert changed.parsed == 1
    assert changed.inputs_hash != first.inputs_hash
    schema = changed.project.queues[0].function.input_schema
    assert schema["$defs"]["Shared"]["properties"]["kind"]["enum"] == ["x", "y"]
    # a new file with a syntax error is parsed and reported; the others stay cached
    write(root, {"shop/bad.py": "def broken(:\n"})
    broken = scan(root, cache_dir=cache)
    assert broken.parsed == 1
    assert messages(broken) == ["shop/bad.py:1:12: QG001 syntax error: invalid syntax"]


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    root = make(tmp_path, 3)
    cache = tmp_path / ".qgen-cache"
    first = scan(root, cache_dir=cache)
    for f in cache.iterdir():
        f.write_text("{not json")
    again = scan(root, cache_dir=cache)
    assert again.parsed == first.parsed
    assert dump(again) == dump(first)


def test_parallel_equals_serial(tmp_path: Path) -> None:
    root = make(tmp_path, 60)
    assert dump(scan(root, jobs=2)) == dump(scan(root, jobs=1))


def test_same_output_under_different_hash_seeds(tmp_path: Path) -> None:
    root = make(tmp_path, 10)
    code = (
        "import json, sys; from dataclasses import asdict; from pathlib import Path;"
        "from qgen.codegen.scan import scan_project;"
        "r = scan_project(Path(sys.argv[1]), ['shop'], services=None, out_package='shop.gen');"
        "print(json.dumps([asdict(r.project), [d.format() for d in r.diagnostics], r.inputs_hash]))"
    )
    outs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run(
            [sys.executable, "-c", code, str(root)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outs.append(proc.stdout)
    assert outs[0] == outs[1] == outs[2]
    assert '"q0"' in outs[0]

"""Codegen benchmark: bare libcst parse vs cold and warm ``qgen build`` on a synthetic project.

    python bench/codegen.py [--modules 1000] [--dir DIR] [--keep]

Generates a project of N modules with 2 queue functions each (BaseModel, TypedDict, dataclass,
enums, Literal, nested and shared models), then measures, side by side in one run:

- parse: libcst.parse_module over every source file (one process, what the scanner must at
  least do);
- cold: ``qgen build`` in a fresh process with no cache and no previous output;
- warm: ``qgen build`` again with nothing changed;
- one changed: ``qgen build`` after one module gained a field (scanner and model caches hit for
  everything else; not a target, shown for information).

Targets: cold <= 3 x parse, warm <= 10 % of cold.

Wall time is the target; the CPU time (user + system, the build's worker processes and ruff
included) is printed beside it, because on a shared machine it moves far less with the load.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

KINDS = ("model", "typeddict", "dataclass", "enum", "mixed")


def module_source(i: int) -> str:
    kind = KINDS[i % len(KINDS)]
    head = textwrap.dedent(
        f'''\
        """Synthetic module {i} ({kind})."""

        from __future__ import annotations

        import dataclasses
        import enum
        from typing import Literal

        from pydantic import BaseModel, Field
        from typing_extensions import TypedDict

        from app.common import Address, Money
        from qgen import Interaction, sessionless_func, wire_queue_worker


        class Status{i}(enum.Enum):
            NEW = "new"
            DONE = "done"

        '''
    )
    if kind == "model":
        types = f'''
class Item{i}(BaseModel):
    sku: str = Field(min_length=1, description="stock keeping unit")
    qty: int = Field(default=1, ge=1)
    price: Money


class Order{i}(BaseModel):
    """Order number {i}."""

    order_id: str
    items: list[Item{i}]
    ship_to: Address | None = None
    status: Status{i} = Status{i}.NEW


class Receipt{i}(BaseModel):
    order_id: str
    total: float
'''
        in_a, out_a, in_b, out_b = f"Order{i}", f"Receipt{i}", f"Item{i}", "None"
    elif kind == "typeddict":
        types = f"""
class Event{i}(TypedDict):
    name: str
    at: str
    tags: list[str]
    where: Address


class Ack{i}(TypedDict):
    ok: bool
"""
        in_a, out_a, in_b, out_b = f"Event{i}", f"Ack{i}", f"Event{i}", "int"
    elif kind == "dataclass":
        types = f"""
@dataclasses.dataclass
class Point{i}:
    x: float
    y: float
    label: str = ""


@dataclasses.dataclass
class Route{i}:
    points: list[Point{i}]
    mode: Literal["car", "bike", "foot"] = "car"
"""
        in_a, out_a, in_b, out_b = f"Route{i}", f"Point{i}", f"Point{i}", "list[str]"
    elif kind == "enum":
        types = f"""
class Change{i}(BaseModel):
    status: Status{i}
    note: str | None = None
"""
        in_a, out_a, in_b, out_b = f"Change{i}", f"Status{i}", "Money", "None"
    else:
        types = f"""
class Node{i}(BaseModel):
    value: int
    children: list[Node{i}] = []


class Batch{i}(BaseModel):
    ids: list[int]
    meta: dict[str, str] = {{}}
    amount: Money
"""
        in_a, out_a, in_b, out_b = f"Node{i}", "int", f"Batch{i}", f"dict[str, Node{i}]"
    funcs = f"""

@sessionless_func(docs={{"summary": "first job of module {i}"}})
async def job_a_{i}(services: object, data: {in_a}, interaction: Interaction) -> {out_a}:
    raise NotImplementedError


@sessionless_func(docs={{"summary": "second job of module {i}"}})
def job_b_{i}(services: object, data: {in_b}) -> {out_b}:
    raise NotImplementedError


wire_queue_worker(queue="q{i:04d}-a", func=job_a_{i}, config={{"attempts": 5, "timeout": 30}})
wire_queue_worker(queue="q{i:04d}-b", func=job_b_{i})
"""
    return head + types + funcs


COMMON = '''"""Models shared by many modules."""

from pydantic import BaseModel


class Money(BaseModel):
    amount: int
    currency: str = "EUR"


class Address(BaseModel):
    street: str
    city: str
    zip: str | None = None
'''


def make_project(root: Path, modules: int) -> list[Path]:
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-app"\nversion = "0"\n\n'
        '[tool.qgen]\nsource = ["app"]\nout = "app/generated"\n',
        encoding="utf-8",
    )
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "common.py").write_text(COMMON, encoding="utf-8")
    files = [root / "app" / "__init__.py", root / "app" / "common.py"]
    for i in range(modules):
        path = root / "app" / f"mod_{i:04d}.py"
        path.write_text(module_source(i), encoding="utf-8")
        files.append(path)
    return files


def bare_parse(files: list[Path]) -> tuple[float, float]:
    """(wall, cpu) seconds of parsing every file in one fresh process."""
    code = (
        "import sys, time, libcst\n"
        "paths = sys.argv[1:]\n"
        "texts = [open(p, encoding='utf-8').read() for p in paths]\n"
        "t, c = time.perf_counter(), time.process_time()\n"
        "for s in texts: libcst.parse_module(s)\n"
        "print(time.perf_counter() - t, time.process_time() - c)\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(map(str, files)))
    out = subprocess.run(
        [sys.executable, "-c", code.replace("sys.argv[1:]", f"open({fh.name!r}).read().split()")],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(fh.name).unlink()
    wall, cpu = out.stdout.split()
    return float(wall), float(cpu)


def snapshot_qgen(dest: Path) -> dict[str, str]:
    """A frozen copy of the qgen package, so edits to the source tree during the run (other
    people working) neither change the generator's fingerprint nor the code measured."""
    import qgen

    shutil.copytree(
        Path(qgen.__file__).resolve().parent,
        dest / "qgen",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return {**os.environ, "PYTHONPATH": str(dest)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def qgen_build(root: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall, cpu, output) of one ``qgen build``."""
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "qgen.cli", "build", "--timings"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"qgen build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-4000:]}")
    return elapsed, _children_cpu() - cpu, proc.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", type=int, default=1000)
    ap.add_argument("--dir", type=Path, help="where to create the project (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the generated project")
    args = ap.parse_args()
    root = (args.dir or Path(tempfile.mkdtemp(prefix="qgen-bench-"))) / "project"
    if root.parent.exists() and args.dir is not None:
        shutil.rmtree(root.parent / "qgen-snapshot", ignore_errors=True)
    if root.exists():
        shutil.rmtree(root)
    files = make_project(root, args.modules)
    print(f"project: {root} ({len(files)} files, {2 * args.modules} queue functions)")
    parse, parse_cpu = bare_parse(files)
    env = snapshot_qgen(root.parent / "qgen-snapshot")
    # The project was just written: let the kernel flush it now, not while the timed build
    # creates its own files (that flush once tripled the build's write phase).
    os.sync()
    cold, cold_cpu, cold_out = qgen_build(root, env)
    warm, warm_cpu, warm_out = qgen_build(root, env)
    changed = root / "app" / "mod_0000.py"
    changed.write_text(
        changed.read_text(encoding="utf-8").replace(
            "    total: float\n", "    total: float\n    tax: float = 0\n"
        ),
        encoding="utf-8",
    )
    one, one_cpu, one_out = qgen_build(root, env)
    print("cold: " + cold_out.replace("\n", "\n      "))
    print("warm: " + warm_out.replace("\n", "\n      "))
    print("one changed: " + one_out.replace("\n", "\n      "))
    print(f"{'bare libcst parse':<22}{parse:8.2f} s" + " " * 37 + f"cpu {parse_cpu:5.2f} s")
    print(
        f"{'cold qgen build':<22}{cold:8.2f} s   {cold / parse:5.2f} x parse   (target <= 3)"
        f"     cpu {cold_cpu:5.2f} s = {cold_cpu / parse_cpu:4.2f} x"
    )
    print(
        f"{'warm qgen build':<22}{warm:8.2f} s   {100 * warm / cold:5.1f} % of cold (target <= 10)"
        f"  cpu {warm_cpu:5.2f} s = {100 * warm_cpu / cold_cpu:4.1f} %"
    )
    print(
        f"{'one module changed':<22}{one:8.2f} s   {100 * one / cold:5.1f} % of cold"
        + " " * 17
        + f"cpu {one_cpu:5.2f} s"
    )
    if not args.keep and args.dir is None:
        shutil.rmtree(root.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

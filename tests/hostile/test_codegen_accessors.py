"""Issue 10 item 12: queues named like client members get accessors that cannot clash.

Before, a queue named ``close`` or ``queue`` built without a diagnostic and gave a client that
failed with ``RecursionError`` or "property has no setter". Now such a queue's accessor gets a
trailing underscore; the generated client passes ``mypy --strict`` and works at run time.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from qgen.codegen.client_names import RESERVED, client_accessor
from qgen.runtime.client import AsyncClientBase, ClientBase
from tests.golden.harness import out_dir, run_cli

CLASHING = [
    "queue",
    "add",
    "add_many",
    "close",
    "url",
    "from_url",
    "backend_name",
    "QUEUES",
    "DEFAULT_URL",
    "models",
    "overload",
    "Literal",
    "dt",
]


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "clash"
    (project / "app").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["app"]\nout = "app/generated"\n', encoding="utf-8"
    )
    (project / "app" / "__init__.py").write_text("", encoding="utf-8")
    lines = [
        "from pydantic import BaseModel",
        "from qgen import sessionless_func, wire_queue_worker",
        "",
        "class Data(BaseModel):",
        "    n: int",
        "",
        "@sessionless_func()",
        "async def job(services: object, data: Data) -> int:",
        "    return data.n",
        "",
    ]
    lines += [f'wire_queue_worker(queue="{name}", func=job)' for name in CLASHING]
    (project / "app" / "jobs.py").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return project


USE = """
from app.generated.client import AsyncQueueClient, QueueClient


def use(client: QueueClient) -> int:
    client.close_.add({"n": 1})
    client.add("close", {"n": 1})
    client.queue_.add_many([{"n": 2}])
    url: str = client.url
    return client.add_many_.add({"n": 3}).result() + len(url)


async def use_async(client: AsyncQueueClient) -> int:
    job = await client.models_.add({"n": 4})
    await client.close()
    return await job.result()
"""

PROBE = """
import json, sys
from app.generated.client import QueueClient
names = json.loads(sys.argv[1])
client = QueueClient.from_url(sys.argv[2])
seen = {}
for name, accessor in names.items():
    via_accessor = getattr(client, accessor).add({"n": 1})
    via_name = client.add(name, {"n": 2})
    seen[name] = [via_accessor.queue, str(via_accessor.status()), via_name.queue]
assert client.url == sys.argv[2]
client.close()
print(json.dumps(seen))
"""


def test_clashing_queue_names_get_safe_accessors(tmp_path: Path) -> None:
    project = _project(tmp_path)
    code, out, err = run_cli(project, "build")
    assert code == 0, out + err
    manifest = json.loads((out_dir(project) / "manifest.json").read_text(encoding="utf-8"))
    accessors = {name: q["accessor"] for name, q in manifest["queues"].items()}
    assert accessors["close"] == "close_" and accessors["add_many"] == "add_many_"
    assert all(a not in RESERVED for a in accessors.values())
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(accessors), url],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen == {name: [name, "waiting", name] for name in CLASHING}

    (project / "use.py").write_text(USE, encoding="utf-8")
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         str(tmp_path / "mypy-cache"), "app/generated", "use.py"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout


def test_reserved_names_cover_the_client_and_the_generated_module(tmp_path: Path) -> None:
    public = {n for cls in (ClientBase, AsyncClientBase) for n in dir(cls) if not n.startswith("_")}
    instance = {n for n in vars(ClientBase("sqlite:///" + str(tmp_path / "x.db"))) if n[0] != "_"}
    project = _project(tmp_path)
    assert run_cli(project, "build")[0] == 0
    tree = ast.parse((out_dir(project) / "client.py").read_text(encoding="utf-8"))
    module_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.alias):
            module_names.add((node.asname or node.name).split(".")[0])
    module_names |= {
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(t, ast.Name)
    }
    module_names |= {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    missing = (public | instance | module_names) - RESERVED
    assert not {n for n in missing if not n.startswith("_")}, missing
    assert client_accessor("publish-article") == "publish_article"
    assert client_accessor("class") == "class_"

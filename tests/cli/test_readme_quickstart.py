"""The README's quick start, run as it stands: its code blocks are read from README.md, the
files they name are written, its shell lines are run (the worker in the background), and its
client block must print the job's result. A change to the README that breaks the walk-through
breaks this test.

The ``pip install`` line is the one step not run: the test runs in the checkout's environment,
where qgen and its codegen extra are installed already."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def quick_start_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n## Quick start")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], re.S)


def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    blocks = quick_start_blocks()
    env = {k: v for k, v in os.environ.items() if k != "QGEN_URL"}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    worker: subprocess.Popen[bytes] | None = None
    client_code = None
    try:
        for lang, body in blocks:
            first = body.splitlines()[0]
            named = re.fullmatch(r"# (\S+\.(?:py|toml))", first)
            if named:
                path = tmp_path / named[1]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(body, encoding="utf-8")
            elif lang == "bash":
                worker = _run_shell(body, tmp_path, env) or worker
            else:
                assert lang == "python" and client_code is None, (lang, body)
                client_code = body
        assert worker is not None, "the quick start starts no worker"
        assert client_code is not None, "the quick start has no client block"
        done = subprocess.run(
            [sys.executable, "-c", client_code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.split()[-1] == "tx-o1-500", done.stdout
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0, out.decode(errors="replace")


def _run_shell(body: str, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes] | None:
    """Run a bash block's lines; a ``python -m <out>.workers.<backend>`` line is the worker,
    started in the background and returned."""
    worker = None
    for raw in body.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("pip install"):
            continue
        words = line.split()
        if words[:2] == ["python", "-m"] and ".workers." in words[2]:
            worker = subprocess.Popen(
                [sys.executable, *words[1:]],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            continue
        done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{line}: {done.stdout}{done.stderr}"
    return worker

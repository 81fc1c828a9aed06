"""The tests exercise this checkout's qgen, never another copy the virtualenv may hold (an
editable install of another clone): in this process and in the subprocesses tests start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import qgen

ROOT = Path(__file__).resolve().parents[2]


def test_this_process_imports_the_checkout_under_test() -> None:
    assert Path(qgen.__file__).resolve().is_relative_to(ROOT), qgen.__file__


def test_subprocesses_import_the_checkout_under_test() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import qgen; print(qgen.__file__)"],
        cwd="/",
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert Path(proc.stdout.strip()).resolve().is_relative_to(ROOT), proc.stdout

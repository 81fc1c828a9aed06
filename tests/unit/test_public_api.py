"""``qgen``'s public names are loaded on first use: each is the object its module defines, an
unknown name is an AttributeError, and ``import qgen`` alone loads neither pydantic nor asyncio."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import qgen


@pytest.mark.parametrize("name", sorted(set(qgen.__all__) - {"__version__"}))
def test_every_public_name_is_its_modules_object(name: str) -> None:
    value = getattr(qgen, name)
    home = importlib.import_module(qgen._HOMES[name])
    assert value is getattr(home, name)
    assert name in dir(qgen)


def test_the_homes_are_the_public_names() -> None:
    assert set(qgen._HOMES) == set(qgen.__all__) - {"__version__"}


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'wire_queue'"):
        _ = qgen.wire_queue  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        exec("from qgen import wire_queue", {})


def test_importing_qgen_loads_no_runtime() -> None:
    script = "import json, sys, qgen\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    modules = set(json.loads(proc.stdout))
    assert not {"pydantic", "asyncio", "qgen.runtime"} & modules

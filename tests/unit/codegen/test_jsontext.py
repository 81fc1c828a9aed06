"""The generated JSON files' writer gives exactly ``json.dumps(indent=2, sort_keys=True,
ensure_ascii=False)``."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from qgen.codegen import jsontext

SAMPLES: list[Any] = [
    {},
    [],
    "",
    {"b": [1, 2.5, -0.0, 1e300, True, False, None], "a": {"x": {}, "y": []}},
    {"$schema": "x", 'é\u2028"\\\n\t': ["ünïcödé", "\x00\x1f", "😀"], "n": -(2**70)},
    [[[]], [{}], ({"t": (1, 2)},)],
    {"nan": float("nan"), "inf": [float("inf"), float("-inf")]},
    {"default": 1.0, "min": 0.1 + 0.2, "big": 12345678901234567890.0},
]


class Color(enum.StrEnum):
    RED = "red"


@pytest.mark.parametrize("value", SAMPLES)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("value", [{1: "a", 2: "b"}, {"c": Color.RED}, [Color.RED], {"k": 2**5}])
def test_what_it_does_not_write_itself_goes_to_json_dumps(value: Any) -> None:
    assert jsontext.dumps(value) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)

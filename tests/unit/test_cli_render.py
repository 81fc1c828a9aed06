"""What the operator commands print: durations, escaped text, tables, counts and cursors."""

from __future__ import annotations

import io

import pytest

from qgen.cli_render import COUNT_HEADERS, counts_row, parse_duration, safe, table
from qgen.runtime.backends.ops import QueueCounts, decode_cursor, encode_cursor
from qgen.runtime.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7d", 604_800),
        ("12h", 43_200),
        ("30m", 1_800),
        ("45s", 45),
        ("500ms", 0.5),
        ("90", 90),
        ("1.5h", 5_400),
        ("2w", 1_209_600),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1d", "7 days", "1e9", "nan", "3y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="not a duration"):
        parse_duration(text)


def test_safe_escapes_terminal_controls_and_cuts() -> None:
    shown = safe("a\x1b[2Jb\x07c\u202ed\nok é 日本")
    assert shown == "a\\x1b[2Jb\\x07c\\u202ed\\nok é 日本"
    assert safe("x" * 100, 10) == "x" * 9 + "…"


def test_table_aligns_counts_and_escapes_cells() -> None:
    out = io.StringIO()
    rows = [
        counts_row("a\x1bq", QueueCounts(waiting=12, paused=True)),
        counts_row("sqs", QueueCounts(waiting=3, approximate=True, unknown=frozenset({"failed"}))),
    ]
    table(COUNT_HEADERS, rows, out)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert lines[1].split() == ["a\\x1bq", "12", "0", "0", "0", "0", "0", "0", "yes"]
    assert lines[2].split() == ["sqs", "~3", "~0", "~0", "~0", "?", "~0", "~0", "no"]
    assert lines[0].index("WAITING") + len("WAITING") == lines[1].index("12") + 2  # right-aligned


def test_cursors_round_trip_and_refuse_anything_else() -> None:
    assert decode_cursor(encode_cursor(1700000000.123, "job:1/é")) == (1700000000.123, "job:1/é")
    for bad in ["", "%%%", encode_cursor(1.0, "x")[:-3], "WzEsMl0", "bnVsbA"]:
        with pytest.raises(ConfigError, match="invalid cursor"):
            decode_cursor(bad)

"""The one capability table: complete, consistent with config keys, mirrored in the README."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from qgen.runtime import capabilities as caps
from qgen.runtime.config_keys import CONFIG_KEYS, check_value, normalize_config
from qgen.runtime.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_and_feature_has_a_cell_per_backend() -> None:
    for key in CONFIG_KEYS:
        for backend in caps.BACKENDS:
            support = caps.config_support(key, backend)
            assert support.note, (key, backend)
    for feat in caps.Feature:
        assert set(caps.FEATURES[feat]) == set(caps.BACKENDS)


def test_unsupported_keys_reads_the_table() -> None:
    config = {"visibility_timeout": 30, "lock_duration": 1000, "batch_size": 3}
    assert [k for k, _ in caps.unsupported_keys(config, "redis")] == ["visibility_timeout"]
    assert [k for k, _ in caps.unsupported_keys(config, "sqlite")] == ["lock_duration"]


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///x.db", "sqlite"),
        ("rediss://h/0", "redis"),
        ("postgresql://h/db", "postgres"),
        ("sqs://us-east-1", "sqs"),
    ],
)
def test_backend_for_url(url: str, backend: str) -> None:
    assert caps.backend_for_url(url) == backend


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown backend URL scheme"):
        caps.backend_for_url("amqp://localhost")


def test_durations_accept_timedelta_in_the_keys_unit() -> None:
    assert check_value("lock_duration", dt.timedelta(seconds=2)) == (2000, None)
    assert check_value("visibility_timeout", dt.timedelta(minutes=5)) == (300, None)
    _, err = check_value("batch_size", 0)
    assert err is not None and ">= 1" in err
    _, err = check_value("bogus", 1)
    assert err is not None and "unknown config key 'bogus'" in err


def test_normalize_config_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as info:
        normalize_config("q", {"attempts": "3", "backoff": {"type": "linear"}, "name": ""})
    text = str(info.value)
    assert "attempts must be an integer" in text
    assert "backoff.type" in text
    assert "name must be a non-empty string" in text


def test_readme_table_is_generated_from_the_code() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_readme.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert caps.markdown_table() in (ROOT / "README.md").read_text(encoding="utf-8")

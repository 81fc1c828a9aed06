"""Issue 10 items 13 and 14: passwords in URLs never appear in messages (one helper masks them
wherever a URL is shown), and every backend's URL parser refuses unknown or duplicated query
parameters and fragments with a clear error."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from qgen.cli import main as qgen_main
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.capabilities import BACKENDS, backend_for_url
from qgen.runtime.errors import ConfigError, QgenError
from qgen.runtime.urls import mask_url, redact, strict_query
from qgen.runtime.worker import run_worker

SECRET = "s3cr3t-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cr3t-pw@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresq://u:s3cr3t-pw@h/db", "postgresq://u:***@h/db"),
        ("rediss://u:s3cr3t/pw@h:6379/0", "rediss://u:***@h:6379/0"),  # unencoded '/'
        ("redis://u:s3c@r3t@h/0", "redis://u:***@h/0"),  # unencoded '@'
        ("postgresql://u@h/db?password=s3cr3t&sslmode=require", "postgresql://u@h/db?password=***&sslmode=require"),
        (
            "sqs://eu-west-1?endpoint_url=http://k:s3cr3t@127.0.0.1:5000&prefix=a-",
            "sqs://eu-west-1?endpoint_url=http://k:***@127.0.0.1:5000&prefix=a-",
        ),
        ("see 'redis://u:s3cr3t@h/0' here", "see 'redis://u:***@h/0' here"),
        ("sqlite:///data/jobs.db", "sqlite:///data/jobs.db"),
        ("redis://h:6379/0?prefix=p", "redis://h:6379/0?prefix=p"),
    ],
)  # fmt: skip
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
    assert "s3c" not in redact(f"driver said: {url}", url)


def test_redact_removes_secrets_a_driver_quotes() -> None:
    url = f"postgresql://u:{SECRET}@h/db?sslpassword=k3y-pass"
    text = f'connection to "h" failed: password "{SECRET}" / k3y-pass; retry {url}'
    clean = redact(text, url)
    assert SECRET not in clean and "k3y-pass" not in clean
    assert clean.startswith('connection to "h" failed: password "***"')


def test_strict_query_refuses_fragments_unknown_and_repeated_parameters() -> None:
    assert strict_query("x://h/?a=1&b=", {"a", "b"}, "X") == {"a": "1", "b": ""}
    for url, words in [
        ("x://u:s3cr3t@h/?a=1#frag", "fragment"),
        ("x://u:s3cr3t@h/?c=1", "unknown X URL parameter 'c'"),
        ("x://u:s3cr3t@h/?a=1&a=2", "parameter 'a' is given twice"),
    ]:
        with pytest.raises(ConfigError) as info:
            strict_query(url, {"a", "b"}, "X")
        assert words in str(info.value) and "s3cr3t" not in str(info.value)


def _hostile_urls(backend: str, tmp_path: Path) -> list[str]:
    """URLs of ``backend`` with a fragment, an unknown and a repeated parameter."""
    if backend == "sqlite":
        base = f"sqlite:///{tmp_path}/jobs.db"
        return [
            f"{base}#frag",
            f"{base}?synchronus=full",
            f"{base}?synchronous=full&synchronous=normal",
        ]
    if backend == "redis":
        base = f"redis://:{SECRET}@127.0.0.1:6379/0"
        return [
            f"{base}#frag",
            f"{base}?bogus=1",
            f"{base}?prefix=a&prefix=b",
            f"{base}?ssl_certfile=x",
        ]
    if backend == "postgres":
        base = f"postgresql://u:{SECRET}@127.0.0.1:5432/test"
        return [f"{base}#frag", f"{base}?shema=a", f"{base}?schema=a&schema=b"]
    base = f"sqs://us-east-1?endpoint_url=http://k:{SECRET}@127.0.0.1:9"
    return [f"{base}#frag", f"{base}&bogus=1", f"{base}&prefix=a-&prefix=b-"]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_each_url_parser_is_strict_and_masks(backend: str, tmp_path: Path) -> None:
    for url in _hostile_urls(backend, tmp_path):
        with pytest.raises(ConfigError) as info:
            await open_backend(url, {})
        message = str(info.value)
        assert SECRET not in message
        assert any(w in message for w in ("fragment", "unknown", "twice")), message
    assert not list(tmp_path.glob("jobs.db*"))  # sqlite: no file named after the fragment


@pytest.mark.parametrize(
    "url",
    [
        f"redis://u:{SECRET}/x@127.0.0.1:6379/0",  # Python's own error would quote the "port"
        f"redis://u:{SECRET}@[::1:6379/0",
        f"sqs://k:{SECRET}/x@us-east-1",
        f"sqs://us-east-1?endpoint_url=ftp://k:{SECRET}@h",
        f"postgresql://u:{SECRET}/x@127.0.0.1:5432/test",
        f"postgresq://u:{SECRET}@h/db",  # the capability check: an unknown scheme
    ],
)
async def test_parse_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(QgenError) as info:
        await open_backend(url, {})
    assert SECRET not in str(info.value)
    assert "***" in str(info.value) or "://" not in str(info.value)


def test_capability_check_masks() -> None:
    with pytest.raises(ConfigError) as info:
        backend_for_url(f"postgresq://u:{SECRET}@h/db")
    assert SECRET not in str(info.value) and "postgresq://u:***@h/db" in str(info.value)


def test_migrate_with_a_bad_url_masks() -> None:
    out, err = io.StringIO(), io.StringIO()
    code = qgen_main(["migrate", "--url", f"postgresq://u:{SECRET}@h/db"], out=out, err=err)
    assert code == 2
    assert SECRET not in out.getvalue() + err.getvalue()
    assert "postgresq://u:***@h/db" in err.getvalue()


async def test_worker_given_another_backends_url_masks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError) as info:
        await run_worker(
            f"redis://:{SECRET}@127.0.0.1:6379/0",
            wiring_modules=["hostile_app.wiring"],
            services=None,
            backend="postgres",
        )
    assert SECRET not in str(info.value) and "redis://:***@127.0.0.1:6379/0" in str(info.value)
    assert SECRET not in caplog.text

"""sqs:// URL parsing and SQS queue-name rules (no server needed)."""

from __future__ import annotations

import pytest

from qgen.runtime.backends.sqs.provision import check_queues
from qgen.runtime.backends.sqs.url import SQS_MAX_MESSAGE_BYTES, parse_sqs_url
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import resolve_all


def test_full_url() -> None:
    u = parse_sqs_url(
        "sqs://eu-west-1?endpoint_url=http://127.0.0.1:5000&prefix=app-&create=1"
        "&max_message_bytes=1000"
    )
    assert (u.region, u.endpoint_url, u.prefix, u.create) == (
        "eu-west-1",
        "http://127.0.0.1:5000",
        "app-",
        True,
    )
    assert u.max_message_bytes == 1000
    assert u.sqs_name("payments") == "app-payments"
    assert u.queue_for("app-payments") == "payments"
    assert u.queue_for("other-payments") is None


def test_defaults() -> None:
    u = parse_sqs_url("sqs://us-east-1")
    assert u.endpoint_url is None and u.prefix == "" and not u.create
    assert u.max_message_bytes == SQS_MAX_MESSAGE_BYTES == 1_048_576
    assert parse_sqs_url("sqs://").region is None


@pytest.mark.parametrize(
    "bad",
    [
        "redis://x",
        "sqs://us-east-1?nope=1",
        "sqs://us-east-1?prefix=a.b",
        "sqs://us-east-1?create=maybe",
        "sqs://us-east-1?max_message_bytes=0",
        "sqs://us-east-1?endpoint_url=ftp://x",
        "sqs://US_EAST?prefix=a",
    ],
)
def test_bad_urls(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_sqs_url(bad)


@pytest.mark.parametrize("name", ["a", "pay-ments_1", "jobs.fifo", "x" * 80, "x" * 75 + ".fifo"])
def test_valid_sqs_names(name: str) -> None:
    assert parse_sqs_url("sqs://us-east-1").sqs_name(name) == name


@pytest.mark.parametrize("name", ["a.b", "x" * 81, "x" * 76 + ".fifo", "jobs.fifo.x"])
def test_invalid_sqs_names(name: str) -> None:
    with pytest.raises(ConfigError, match="SQS names"):
        parse_sqs_url("sqs://us-east-1").sqs_name(name)


def test_prefix_counts_towards_the_80_characters() -> None:
    u = parse_sqs_url("sqs://us-east-1?prefix=" + "p" * 10)
    u.sqs_name("x" * 70)
    with pytest.raises(ConfigError):
        u.sqs_name("x" * 71)


def test_dead_letter_of_a_fifo_queue_must_be_fifo() -> None:
    u = parse_sqs_url("sqs://us-east-1")
    with pytest.raises(ConfigError, match="FIFO"):
        check_queues(u, resolve_all({"a.fifo": {"dead_letter": "dead"}}, "sqs"))
    with pytest.raises(ConfigError, match="standard"):
        check_queues(u, resolve_all({"a": {"dead_letter": "dead.fifo"}}, "sqs"))
    fine = {"a.fifo": {"dead_letter": "dead.fifo"}, "b": {"dead_letter": "dead"}}
    check_queues(u, resolve_all(fine, "sqs"))


def test_missing_region_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from qgen.runtime.backends.sqs.transport import make_client

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    with pytest.raises(ConfigError, match="no AWS region"):
        make_client(parse_sqs_url("sqs://"))

"""Client-side validation and option checks: nothing reaches a backend when they fail."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from qgen.runtime.client import AsyncClientBase, ClientBase, QueueMeta
from qgen.runtime.errors import ConfigError, ValidationFailed
from qgen.runtime.payloads import Adapters, add_options


class Payment(BaseModel):
    order_id: str
    amount: int
    when: dt.datetime


class Other(BaseModel):
    order_id: str
    amount: int
    when: dt.datetime


@dataclasses.dataclass
class AsDataclass:
    order_id: str
    amount: int
    when: dt.datetime


META = QueueMeta("payments", Payment, None, {"attempts": 2})
WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
EXPECTED = {"order_id": "o1", "amount": 5, "when": "2026-01-02T03:04:05Z"}


@pytest.mark.parametrize(
    "data",
    [
        Payment(order_id="o1", amount=5, when=WHEN),
        {"order_id": "o1", "amount": 5, "when": WHEN},
        {"order_id": "o1", "amount": "5", "when": "2026-01-02T03:04:05Z"},
        Other(order_id="o1", amount=5, when=WHEN),
        AsDataclass("o1", 5, WHEN),
    ],
)
def test_accepted_shapes_become_json_ready(data: Any) -> None:
    assert Adapters(META).prepare(data) == EXPECTED


def test_invalid_data_raises_with_pydantic_errors() -> None:
    with pytest.raises(ValidationFailed) as info:
        Adapters(META).prepare({"order_id": "o1", "amount": "many"})
    assert info.value.queue == "payments"
    locs = {tuple(e["loc"]) for e in info.value.errors}
    assert locs == {("amount",), ("when",)}
    assert "amount" in str(info.value)


def test_scalar_and_container_types() -> None:
    adapters = Adapters(QueueMeta("q", set[uuid.UUID], None, {}))
    u = uuid.UUID(int=1)
    assert adapters.prepare({u}) == [str(u)]


def test_options_normalized() -> None:
    opts = add_options(
        job_id="a.b@c-1",
        delay=dt.timedelta(milliseconds=1500),
        priority=3,
        attempts=2,
        backoff={"type": "fixed", "delay": dt.timedelta(seconds=2)},
    )
    assert (opts.job_id, opts.delay, opts.priority, opts.attempts) == ("a.b@c-1", 1.5, 3, 2)
    assert opts.backoff == {"type": "fixed", "delay": 2000}
    assert add_options().delay == 0.0 and add_options().priority == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"job_id": "has space"},
        {"job_id": ""},
        {"delay": -1},
        {"delay": "soon"},
        {"priority": 1.5},
        {"attempts": 0},
        {"attempts": True},
        {"backoff": {"type": "linear"}},
    ],
)
def test_badadd_options(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        add_options(**kwargs)


class Async(AsyncClientBase):
    QUEUES = {"payments": META}


class Sync(ClientBase):
    QUEUES = {"payments": META}


async def test_nothing_is_written_when_validation_fails(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    client = Async(f"sqlite:///{db}")
    with pytest.raises(ValidationFailed):
        await client.add("payments", {"order_id": 1})
    with pytest.raises(ValidationFailed):
        await client.queue("payments").add_many(
            [{"order_id": "o", "amount": 1, "when": WHEN}, {"amount": "x"}]
        )
    with pytest.raises(ConfigError, match="unknown queue"):
        client.queue("nope")
    await client.close()
    assert not db.exists()  # never connected


def test_url_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QGEN_URL", raising=False)
    with pytest.raises(ConfigError, match="no queue URL"):
        Sync()
    monkeypatch.setenv("QGEN_URL", f"sqlite:///{tmp_path}/env.db")
    assert Sync().url.endswith("env.db")

    class WithDefault(Sync):
        DEFAULT_URL = "sqlite:///default.db"

    assert WithDefault().url.endswith("env.db")
    monkeypatch.delenv("QGEN_URL")
    assert WithDefault().url == "sqlite:///default.db"
    assert WithDefault("redis://cache.example:6379/0").backend_name == "redis"


async def test_sync_client_refuses_inside_a_running_loop(tmp_path: Path) -> None:
    client = Sync(f"sqlite:///{tmp_path}/x.db")
    with pytest.raises(RuntimeError, match="async client"):
        client.add("payments", {"order_id": "o", "amount": 1, "when": WHEN})

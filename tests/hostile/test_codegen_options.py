"""Issue 10 item 9 (with issue 12 item 2): add options are checked before anything is written.

An unknown keyword (a ``jobid=`` typo) is a ConfigError, through the typed accessor and the
untyped ``client.add(name, data, **options)`` alike; ``connection=`` where the backend has no
transactional enqueue and ``group=`` where it has no message groups are UnsupportedByBackend,
decided by the capability table. Run against a generated client on every backend.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from qgen.runtime.capabilities import BACKENDS, Feature, supports
from qgen.runtime.errors import ConfigError, UnsupportedByBackend
from tests.golden.harness import run_cli

SOURCE = """
from pydantic import BaseModel
from qgen import sessionless_func, wire_queue_worker


class Item(BaseModel):
    n: int


@sessionless_func()
async def work(services: object, data: Item) -> None:
    return None


wire_queue_worker(queue="items", func=work)
wire_queue_worker(queue="items.fifo", func=work)
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    project = tmp_path_factory.mktemp("options")
    (project / "optapp").mkdir()
    (project / "optapp" / "__init__.py").write_text("", encoding="utf-8")
    (project / "optapp" / "jobs.py").write_text(SOURCE, encoding="utf-8")
    (project / "pyproject.toml").write_text(
        '[tool.qgen]\nsource = ["optapp"]\nout = "optapp/generated"\n', encoding="utf-8"
    )
    code, out, err = run_cli(project, "build")
    assert code == 0, out + err
    sys.path.insert(0, str(project))
    try:
        yield importlib.import_module("optapp.generated.client")
    finally:
        sys.path.remove(str(project))
        for name in [m for m in sys.modules if m == "optapp" or m.startswith("optapp.")]:
            del sys.modules[name]


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, generated: ModuleType, tmp_path: Path) -> Iterator[Any]:
    provider = importlib.import_module(f"support.{request.param}")
    with provider.backend_url(tmp_path) as url:
        c = generated.QueueClient.from_url(url)
        try:
            yield c
        finally:
            c.close()


def _nothing_sent(client: Any) -> bool:
    return client._core._backend is None  # refused before the backend was even opened


def test_unknown_options_are_refused_on_every_path(client: Any) -> None:
    with pytest.raises(ConfigError, match="'jobid'"):
        client.add("items", {"n": 1}, jobid="x")
    with pytest.raises((ConfigError, TypeError), match="jobid"):
        client.items.add({"n": 1}, jobid="x")
    with pytest.raises((ConfigError, TypeError), match="dealy"):
        client.items.add_many([{"n": 1}], dealy=5)
    assert _nothing_sent(client)


def test_connection_is_refused_where_enqueue_is_not_transactional(client: Any) -> None:
    if supports(Feature.TRANSACTIONAL_ENQUEUE, client.backend_name):
        import psycopg

        with psycopg.connect(client.url.split("?")[0]) as conn:
            handle = client.items.add({"n": 1}, connection=conn)
            conn.rollback()  # the job was inside the caller's transaction: gone with it
        with pytest.raises(Exception, match="no job"):
            handle.status()
        return
    for call in (
        lambda: client.items.add({"n": 1}, connection=object()),
        lambda: client.add("items", {"n": 1}, connection=object()),
        lambda: client.items.add_many([{"n": 1}], connection=object()),
    ):
        with pytest.raises(UnsupportedByBackend, match="transactional enqueue"):
            call()
    assert _nothing_sent(client)


def test_group_is_refused_where_there_are_no_message_groups(client: Any) -> None:
    if supports(Feature.MESSAGE_GROUP, client.backend_name):
        with pytest.raises(UnsupportedByBackend, match="not a FIFO queue"):
            client.items.add({"n": 1}, group="g")
        with pytest.raises(ConfigError, match="group must be"):
            client.add("items.fifo", {"n": 1}, group="")
        assert _nothing_sent(client)
        handle = client.items_fifo.add({"n": 1}, group="g", job_id="one")
        assert handle.queue == "items.fifo"
        return
    with pytest.raises(UnsupportedByBackend, match="message groups"):
        client.items_fifo.add({"n": 1}, group="g")
    with pytest.raises(UnsupportedByBackend, match="message groups"):
        client.add("items", {"n": 1}, group="g")
    assert _nothing_sent(client)

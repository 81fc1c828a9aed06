"""``qgen check --url`` (issue 18, item 3) on a small project of its own: built, locked, jobs
queued by an old producer, then checked against the build, on every backend that can list jobs.

The project's package gets a unique name per test (its generated client is imported in this
process). Backends whose job listing is not implemented yet are strict xfails keyed by the
contract suite's table (tests/support/ops_pending.py); SQS, which cannot list jobs at all, must
refuse with the capability table's reason and consume nothing."""

from __future__ import annotations

import asyncio
import importlib
import io
import re
import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.ops_pending import pending_on

from qgen.cli import main
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.capabilities import BACKENDS, Feature, feature
from qgen.runtime.urls import mask_url

V1 = """\
    class Order(BaseModel):
        order_id: str
        amount: int
"""
V2 = """\
    class Order(BaseModel):
        order_id: str
        amount: int
        currency: str
"""
MODULE = """\
from __future__ import annotations

from pydantic import BaseModel

from qgen import sessionless_func, wire_queue_worker


{order}

class Mail(BaseModel):
    to: str


@sessionless_func
async def pay(services: object, data: Order) -> None:
    return None


@sessionless_func
async def send(services: object, data: Mail) -> None:
    return None


wire_queue_worker(queue="payments", func=pay)
wire_queue_worker(queue="emails", func=send)
"""
SECRET = "s3cret-pw"


def write(root: Path, package: str, order: str) -> None:
    (root / package).mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[tool.qgen]\nsource = ["{package}"]\nout = "{package}/generated"\n', encoding="utf-8"
    )
    (root / package / "__init__.py").write_text("", encoding="utf-8")
    text = MODULE.format(order=textwrap.dedent(order))
    (root / package / "jobs.py").write_text(text, encoding="utf-8")


def qgen(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*args, "--project", str(root)], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project at version 1, built and locked."""
    root = tmp_path / "proj"
    write(root, f"lc_{secrets.token_hex(4)}", V1)
    for command in ("build", "lock"):
        code, out, err = qgen(root, command)
        assert code == 0, out + err
    importlib.invalidate_caches()
    return root


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    name: str = request.param
    provider: Any = importlib.import_module(f"support.{name}")
    pending_on(name, request, Feature.LIST_JOBS)
    with provider.backend_url(tmp_path) as value:
        yield with_password(value)


def with_password(url: str) -> str:
    """A password the check must never print (the test servers trust local connections)."""
    if url.startswith("postgresql://postgres@"):
        return url.replace("postgres@", f"postgres:{SECRET}@", 1)
    return url


def backend_name(url: str) -> str:
    from qgen.runtime.backends.registry import backend_for_url

    return backend_for_url(url)


async def enqueue(url: str, jobs: list[tuple[str, Any, float]]) -> None:
    """Jobs as an old producer left them: ``(queue, data, delay)``, no client-side check."""
    backend = await open_backend(url, {"payments": {}, "emails": {}})
    try:
        for n, (queue, data, delay) in enumerate(jobs):
            await backend.enqueue(queue, data, AddOptions(job_id=f"j{n}", delay=delay))
    finally:
        await backend.close()


def listable(url: str) -> bool:
    return feature(Feature.LIST_JOBS, backend_name(url)).supported


def test_queued_jobs_that_fail_the_build_exit_1_with_one_example_per_queue(
    project: Path, url: str
) -> None:
    if not listable(url):
        pytest.skip("the backend cannot list jobs (its own case below)")
    old_order = {"order_id": "o1", "amount": "lots", "note": "x" * 500}
    asyncio.run(
        enqueue(
            url,
            [
                ("payments", {"order_id": "o0", "amount": 5}, 0),
                ("payments", old_order, 0),
                ("payments", {"order_id": "o2"}, 60),
                ("emails", {"to": "a@example.com"}, 0),
            ],
        )
    )
    assert qgen(project, "check")[0] == 0  # the build itself is fine
    code, out, err = qgen(project, "check", "--url", url)
    assert code == 1, out + err
    lines = out.splitlines()
    assert f"queued jobs at {mask_url(url)}, against this build's input types:" in lines
    assert "payments: 3 checked (waiting 2, delayed 1), 2 would fail" in lines
    assert "emails: 1 checked (waiting 1, delayed 0), all valid" in lines
    example = next(line for line in lines if "e.g. job" in line)
    assert example.startswith("  e.g. job j1 (waiting): amount:"), example  # newest failing
    data = next(line for line in lines if line.strip().startswith("data:"))
    assert '"amount": "lots"' in data and data.endswith("...") and len(data) < 230
    assert "2 queued job(s) in 1 queue(s) would fail with this build" in lines
    assert SECRET not in out + err
    assert "Traceback" not in out + err


def test_only_valid_jobs_exit_0(project: Path, url: str) -> None:
    if not listable(url):
        pytest.skip("the backend cannot list jobs (its own case below)")
    asyncio.run(enqueue(url, [("payments", {"order_id": "o0", "amount": 5}, 0)]))
    code, out, err = qgen(project, "check", "--url", url)
    assert code == 0, out + err
    assert "payments: 1 checked (waiting 1, delayed 0), all valid" in out
    assert "emails: no job waiting or delayed" in out


def test_jobs_of_the_locked_schema_are_named_as_such(project: Path, url: str) -> None:
    if not listable(url):
        pytest.skip("the backend cannot list jobs (its own case below)")
    asyncio.run(enqueue(url, [("payments", {"order_id": "o0", "amount": 5}, 0)]))
    write(project, _package(project), V2)  # currency became required
    code, out, err = qgen(project, "build")
    assert code == 0, out + err
    code, out, err = qgen(project, "check", "--url", url)
    assert code == 1, out + err
    assert "QG401" in err  # the lock check still speaks first
    example = next(line for line in out.splitlines() if "e.g. job" in line)
    assert "currency" in example
    assert "likely made by schema version 1 of queue 'payments'" in example


def test_a_backend_that_cannot_list_jobs_refuses_with_the_reason(project: Path, url: str) -> None:
    name = backend_name(url)
    support = feature(Feature.LIST_JOBS, name)
    if support.supported:
        pytest.skip(f"{name} lists jobs")
    asyncio.run(enqueue(url, [("payments", {"order_id": "o0", "amount": 5}, 0)]))
    code, out, err = qgen(project, "check", "--url", url)
    assert code == 2, out + err
    assert support.note in err
    if feature(Feature.COUNTS, name).supported:  # what stays unchecked, without consuming it
        assert "not checked (the backend cannot list jobs):" in out
        assert re.search(r"^payments: ~?1 waiting, ~?0 delayed, ~?0 active$", out, re.M), out
    assert f"cannot check the queued jobs at {mask_url(url)}" in err
    assert "No job was checked" in err and "Traceback" not in err


def _package(root: Path) -> str:
    (package,) = [p.name for p in root.iterdir() if p.name.startswith("lc_")]
    return package


def test_an_unreachable_backend_exits_2_without_its_password(project: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the block ends
    url = f"postgresql://app:{SECRET}@127.0.0.1:{port}/db"
    code, out, err = qgen(project, "check", "--url", url)
    assert code == 2, out + err
    assert "cannot connect to the postgres backend" in err
    assert SECRET not in out + err and "Traceback" not in out + err

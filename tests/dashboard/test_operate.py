"""Operating the queues over HTTP (the in-process app) against a real backend and the
project's generated worker in its own process: counts, job lists with cursors, retry,
cancel, pause/resume, clean, redrive with its dry run, read-only mode, and text from jobs
escaped. PostgreSQL, SQLite and Redis (a backend whose operator API is not implemented yet:
strict xfail, tests/support/ops_pending.py)."""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markupsafe
import pytest
from dashboard_harness import Api, wait_for, worker
from starlette.testclient import TestClient
from support.ops_pending import pending_on

from qgen.dashboard import create_app
from qgen.runtime.capabilities import Feature

LOCAL = {"base_url": "http://127.0.0.1:8077", "client": ("127.0.0.1", 50000)}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def order(order_id: str, amount: int = 5, **more: Any) -> dict[str, Any]:
    return {"order_id": order_id, "amount": amount, "customer": {"name": "Ada"}, **more}


@dataclass(frozen=True)
class Served:
    backend: str
    url: str
    api: Api
    manifest: Path


@pytest.fixture(scope="module", params=["postgres", "sqlite", "redis"])
def served(
    request: pytest.FixtureRequest,
    built_project: Path,
    manifest: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"operate-{backend}")
    provider = importlib.import_module(f"support.{backend}")
    with provider.backend_url(tmp) as url, worker(built_project, backend, url, tmp / "w.log"):
        yield Served(backend, url, Api(manifest, url), manifest)


@pytest.fixture
def app(served: Served) -> Iterator[TestClient]:
    with TestClient(
        create_app(manifest=served.manifest, url=served.url), follow_redirects=False, **LOCAL
    ) as client:
        yield client


def csrf(client: TestClient, path: str = "/queues/echo") -> str:
    found = re.search(r'data-csrf="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def act(client: TestClient, path: str, **fields: str) -> Any:
    """POST an action as the page's form does; returns the redirect and the flash after it."""
    answer = client.post(path, data={"csrf": csrf(client), **fields})
    assert answer.status_code == 303, answer.text
    return client.get(answer.headers["location"])


def flash(page: Any) -> str:
    found = re.search(r'<p class="flash" role="status">(.*?)</p>', page.text, re.S)
    return markupsafe.Markup(found.group(1)).unescape() if found else ""


def settled(served: Served, queue: str, job_id: str, status: str) -> None:
    wait_for(lambda: served.api.status(queue, job_id), lambda s: s == status, f"{job_id} {status}")


def test_the_pages_show_the_apis_counts(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.COUNTS, Feature.LIST_JOBS)
    tag = uuid.uuid4().hex[:6]
    done = served.api.add("echo", f"w-{tag}")
    served.api.add("echo", f"later-{tag}", delay=3600)
    settled(served, "echo", done, "completed")
    expected = served.api.counts("echo")
    api = app.get("/api/queues").json()
    assert api["counts"]["echo"] == expected
    assert api["throughput"]["echo"]["per_second"] is not None
    row = re.search(r'<tr data-queue="echo">.*?</tr>', app.get("/").text, re.S)
    assert row
    for status in ("waiting", "delayed", "completed", "failed"):
        cell = re.search(rf'data-count="{status}"><a [^>]*>(\d+)</a>', row.group(0))
        assert cell and int(cell.group(1)) == expected[status], status
    assert '<svg class="chart"' in row.group(0) and 'class="bar"' in row.group(0)
    state = app.get("/queues/echo/parts/state").text
    assert re.search(rf'data-count="delayed".*?<span class="n">{expected["delayed"]}<', state)
    assert 'class="worker"' in state  # the worker's heartbeat
    assert "no worker seen" in app.get("/queues/echo-dead/parts/state").text  # autorun off


def test_job_lists_page_with_a_cursor(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.LIST_JOBS)
    tag = uuid.uuid4().hex[:6]

    async def add_all(client: Any) -> set[str]:
        items = [order(f"page-{tag}-{i:03d}") for i in range(120)]
        return {h.id for h in await client.queue("orders").add_many(items, delay=3600)}

    mine: set[str] = served.api.run(add_all)
    assert len(mine) == 120
    seen: list[str] = []
    path: str | None = "/queues/orders?status=delayed"
    pages = 0
    while path is not None:
        page = app.get(path).text
        pages += 1
        seen += re.findall(r'<tr data-job="([^"]+)">', page)
        more = re.search(r'<a class="more" href="([^"]+)"', page)
        path = markupsafe.Markup(more.group(1)).unescape() if more else None
        assert pages == 1 or 'class="newest"' in page
    assert len(seen) == len(set(seen))  # no job twice across pages
    assert mine <= set(seen) and pages >= 3
    assert app.get("/queues/orders?status=delayed&cursor=nonsense").status_code == 400


def test_retry_a_failed_job(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.RETRY, Feature.STATUS)
    job_id = served.api.add("orders", order(f"r-{uuid.uuid4().hex[:6]}", amount=17))
    settled(served, "orders", job_id, "failed")
    page = app.get(f"/queues/orders/job?id={job_id}").text
    assert ">retry</button>" in page and ">cancel</button>" not in page
    after = act(app, "/queues/orders/job/actions/retry", id=job_id)
    assert flash(after) == f"Job {job_id} will run again."
    settled(served, "orders", job_id, "completed")  # it fails the first time only
    again = act(app, "/queues/orders/job/actions/retry", id=job_id)
    assert "was not retried" in flash(again)
    assert ">retry</button>" not in again.text


def test_retry_all_failed(app: TestClient, served: Served, request: pytest.FixtureRequest) -> None:
    pending_on(served.backend, request, Feature.RETRY, Feature.STATUS)
    ids = [served.api.add("orders", order(f"ra-{uuid.uuid4().hex[:6]}", 17)) for _ in range(2)]
    for job_id in ids:
        settled(served, "orders", job_id, "failed")
    after = act(app, "/queues/orders/actions/retry_failed", back_status="failed")
    assert re.fullmatch(r"\d+ failed jobs? of orders will run again\.", flash(after))
    for job_id in ids:
        settled(served, "orders", job_id, "completed")


def test_cancel_a_delayed_job(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.CANCEL, Feature.STATUS)
    job_id = served.api.add("echo", "later", delay=3600)
    assert ">cancel</button>" in app.get(f"/queues/echo/job?id={job_id}").text
    answer = app.post("/queues/echo/job/actions/cancel", data={"csrf": csrf(app), "id": job_id})
    assert answer.status_code == 303
    app.get("/queues/echo/parts/state")  # a live part polled meanwhile keeps the message
    after = app.get(answer.headers["location"])
    assert "is cancelled" in flash(after) and "status-cancelled" in after.text
    assert flash(app.get(answer.headers["location"])) == ""  # shown once
    assert served.api.status("echo", job_id) == "cancelled"
    again = act(app, "/queues/echo/job/actions/cancel", id=job_id)
    assert "was not cancelled" in flash(again)


def test_pause_and_resume(app: TestClient, served: Served, request: pytest.FixtureRequest) -> None:
    pending_on(served.backend, request, Feature.PAUSE, Feature.COUNTS, Feature.STATUS)
    paused = act(app, "/queues/echo/actions/pause")
    assert flash(paused).startswith("Paused echo")
    assert 'class="pill warn paused"' in paused.text and ">resume</button>" in paused.text
    assert served.api.counts("echo")["paused"] is True
    try:
        held = served.api.add("echo", "held")
        # the worker is alive and polling: a job of another queue finishes meanwhile
        other = served.api.add("orders", order(f"p-{uuid.uuid4().hex[:6]}"))
        settled(served, "orders", other, "completed")
        assert served.api.status("echo", held) == "waiting"
        index = app.get("/").text
        assert re.search(r'<tr data-queue="echo">.*?class="pill warn paused"', index, re.S)
    finally:
        resumed = act(app, "/queues/echo/actions/resume")
    assert flash(resumed) == "Resumed echo." and ">pause</button>" in resumed.text
    settled(served, "echo", held, "completed")


def test_clean_completed_jobs(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.CLEAN, Feature.COUNTS, Feature.STATUS)
    job_id = served.api.add("echo", "clean-me")
    settled(served, "echo", job_id, "completed")
    after = act(app, "/queues/echo/actions/clean", status="completed", older_than="", keep="")
    assert re.fullmatch(r"Deleted [1-9]\d* completed jobs?\.", flash(after))
    assert served.api.counts("echo")["completed"] == 0
    refused = app.post("/queues/echo/actions/clean", data={"csrf": csrf(app), "status": "waiting"})
    assert refused.status_code == 400 and "finished status" in refused.json()["error"]


def test_redrive_dry_run_lists_what_fails_the_schema(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.REDRIVE, Feature.STATUS)
    tag = uuid.uuid4().hex[:6]
    served.api.add("echo", "boom", job_id=f"boom-{tag}")  # fails: a copy goes to echo-dead
    served.api.raw_add("echo", {HOSTILE: 5}, f"stale-{tag}")  # fails the schema: too
    for job_id in (f"boom-{tag}", f"stale-{tag}"):
        settled(served, "echo", job_id, "failed")
    wait_for(lambda: served.api.counts("echo-dead")["waiting"], lambda n: n >= 2, "dead letters")
    dry = app.get("/queues/echo/redrive")
    assert dry.status_code == 200
    assert f"boom-{tag}" in dry.text  # would move
    # listed under the job's own id on every backend, with the dead letter's data
    kept = re.search(rf'<tr data-job="[^"]*stale-{tag}">.*?</tr>', dry.text, re.S)
    assert kept and "valid string" in kept.group(0)  # the schema's error
    assert "<script>" not in dry.text and "&lt;script&gt;alert(" in kept.group(0)
    assert served.api.status("echo", f"boom-{tag}") == "failed"  # nothing moved
    after = act(app, "/queues/echo/actions/redrive")
    assert re.match(r"Moved [1-9]\d* dead letter\(s\) back to echo; [1-9]\d* kept", flash(after))
    settled(served, "echo", f"boom-{tag}", "failed")  # it ran again (and failed again)
    assert f"stale-{tag}" in app.get("/queues/echo/redrive").text  # still kept


def test_job_text_is_escaped_in_the_list(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.LIST_JOBS)
    served.api.add("orders", order(f"x-{uuid.uuid4().hex[:6]}", note=HOSTILE), delay=3600)
    page = app.get("/queues/orders?status=delayed").text
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_read_only_hides_and_refuses_every_action(served: Served) -> None:
    app = create_app(manifest=served.manifest, url=served.url, read_only=True)
    with TestClient(app, follow_redirects=False, **LOCAL) as client:
        token = csrf(client)
        later = served.api.add("echo", "read-only", delay=3600)  # cancellable, were it allowed
        paths = ["/", "/queues/echo", "/queues/echo?status=delayed", f"/queues/echo/job?id={later}"]
        pages = [client.get(p).text for p in paths]
        if served.backend == "postgres":  # the dry run is a read: it stays, without its button
            dry = client.get("/queues/echo/redrive")
            assert dry.status_code == 200 and "Would move back" in dry.text
            pages.append(dry.text)
        assert not any("/actions/" in page or 'method="post"' in page for page in pages)
        for path, fields in [
            ("/queues/echo/actions/pause", {}),
            ("/queues/echo/actions/clean", {"status": "completed"}),
            ("/queues/echo/actions/redrive", {}),
            ("/queues/echo/job/actions/cancel", {"id": "x"}),
            ("/queues/echo/job/actions/retry", {"id": "x"}),
        ]:
            answer = client.post(path, data={"csrf": token, **fields})
            assert answer.status_code == 403 and "read-only" in answer.json()["error"]
    if served.backend == "postgres":  # the capability is there: nothing was paused
        assert served.api.counts("echo")["paused"] is False


def test_a_listed_job_is_retried_or_cancelled_from_its_row(
    app: TestClient, served: Served, request: pytest.FixtureRequest
) -> None:
    pending_on(served.backend, request, Feature.LIST_JOBS, Feature.RETRY, Feature.CANCEL)
    failed = served.api.add("orders", order(f"row-{uuid.uuid4().hex[:6]}", amount=17))
    later = served.api.add("orders", order(f"row-{uuid.uuid4().hex[:6]}"), delay=3600)
    settled(served, "orders", failed, "failed")
    listing = app.get("/queues/orders?status=failed").text
    row = re.search(rf'<tr data-job="{failed}">.*?</tr>', listing, re.S)
    assert row and ">retry</button>" in row.group(0)
    answer = app.post(
        "/queues/orders/job/actions/retry",
        data={"csrf": csrf(app), "id": failed, "back_status": "failed"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/queues/orders?status=failed"  # back to the list
    settled(served, "orders", failed, "completed")
    delayed = app.get("/queues/orders?status=delayed").text
    row = re.search(rf'<tr data-job="{later}">.*?</tr>', delayed, re.S)
    assert row and ">cancel</button>" in row.group(0)
    after = act(app, "/queues/orders/job/actions/cancel", id=later, back_status="delayed")
    assert "is cancelled" in flash(after) and f'<tr data-job="{later}">' not in after.text
    assert ">retry</button>" not in app.get("/queues/orders?status=completed").text

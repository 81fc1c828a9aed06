"""The pages and the add-a-job endpoint over HTTP, against the in-process app on a real SQLite
queue file (the browser tests run the same against a served app and a real worker)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markupsafe
import pytest
from dashboard_harness import stored_jobs
from starlette.testclient import TestClient

from qgen.dashboard import create_app

LOCAL = {"base_url": "http://127.0.0.1:8077", "client": ("127.0.0.1", 50000)}
ORDER = {"order_id": "p-1", "amount": 7, "customer": {"name": "Ada"}, "items": []}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def app(manifest: Path, url: str) -> Iterator[TestClient]:
    with TestClient(create_app(manifest=manifest, url=url), follow_redirects=False, **LOCAL) as c:
        yield c


def csrf(client: TestClient) -> dict[str, str]:
    page = client.get("/")
    found = re.search(r'data-csrf="([^"]+)"', page.text)
    assert found
    return {"x-csrf-token": found.group(1)}


def add(client: TestClient, queue: str, data: Any, **options: Any) -> Any:
    body = {"data": data, "options": options}
    return client.post(f"/queues/{queue}/jobs", json=body, headers=csrf(client))


def test_index_lists_the_queues_with_their_notes(app: TestClient) -> None:
    page = app.get("/").text
    assert "dashapp.functions.orders:take_order" in page
    assert "Take an order and return its receipt" in page
    assert "<code>Order</code> → <code>Receipt</code>" in page
    # the build's note for this backend, without the queue prefix, and the feature table
    assert "config drain_delay is ignored by sqlite: SQLite workers poll" in page
    assert "queue &#39;orders&#39;:" not in page
    assert "no notifications across processes" in page  # sqlite's push_wait row
    assert 'id="queue-rows" data-live="/parts/queues"' in page  # the rows stay live
    assert "This project has no queues" not in page


def test_queue_page_embeds_the_schema_as_inert_json(app: TestClient, manifest: Path) -> None:
    page = app.get("/queues/orders").text
    block = re.search(r'<script type="application/json" id="input-schema">(.*?)</script>', page)
    assert block, "the schema block must end at its own </script>"
    schema_path = manifest.parent / "schemas" / "orders.input.json"
    assert json.loads(block.group(1)) == json.loads(schema_path.read_text())
    assert "<b>not bold</b>" not in page  # the description's markup is text everywhere
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert "config drain_delay is ignored by sqlite" in page


def test_add_then_show_the_job(app: TestClient, url: str) -> None:
    answer = add(app, "orders", ORDER, job_id="p-1", priority=3)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"id": "p-1", "url": "/queues/orders/job?id=p-1"}
    assert stored_jobs(url, "orders") == 1
    page = app.get("/queues/orders/job?id=p-1").text
    assert "status-waiting" in page
    assert "Amount in cents" in page and "Full name" in page  # titles and descriptions
    api = app.get("/api/queues/orders/job?id=p-1").json()
    assert api["status"] == "waiting" and api["attempts_made"] == 0
    detail = app.get("/queues/orders/job/detail?id=p-1").text
    assert detail.lstrip().startswith('<section id="job-detail" data-finished="0"')


def test_add_a_scalar_job(app: TestClient, url: str) -> None:
    assert add(app, "echo", "hello").status_code == 201
    assert add(app, "echo", 5).status_code == 422
    assert stored_jobs(url, "echo") == 1


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({**ORDER, "amount": 0}, ["amount"]),
        ({**ORDER, "customer": {}}, ["customer", "name"]),
        ({**ORDER, "items": [{"sku": "bad", "quantity": 1}]}, ["items", 0, "sku"]),
        ({**ORDER, "labels": {"a": "x\u0000y"}}, ["labels", "a"]),  # the JSON rule (NUL)
    ],
)
def test_invalid_data_is_refused_with_field_errors(
    app: TestClient, url: str, data: Any, loc: list[Any]
) -> None:
    answer = add(app, "orders", data)
    assert answer.status_code == 422
    assert loc in [e["loc"] for e in answer.json()["errors"]]
    assert stored_jobs(url, "orders") == 0


def test_invalid_options_are_refused(app: TestClient, url: str) -> None:
    bad_id = add(app, "orders", ORDER, job_id="a:b")
    assert bad_id.status_code == 422
    assert bad_id.json()["errors"][0]["loc"] == ["options"]
    assert "job_id" in bad_id.json()["errors"][0]["msg"]
    assert add(app, "orders", ORDER, delay="soon").status_code == 400
    assert add(app, "orders", ORDER, priority=1.5).status_code == 400
    headers = {**csrf(app), "content-type": "application/json"}
    assert app.post("/queues/orders/jobs", content=b"{", headers=headers).status_code == 400
    assert stored_jobs(url, "orders") == 0


def test_unknown_queue_and_job(app: TestClient) -> None:
    html_accept = {"accept": "text/html"}
    assert app.get("/queues/nope", headers=html_accept).status_code == 404
    missing = app.get("/queues/orders/job?id=nothere", headers=html_accept)
    assert missing.status_code == 404 and "nothere" in missing.text
    weird = app.get("/queues/orders/job", params={"id": "<x>"}, headers=html_accept)
    assert weird.status_code == 404 and "&lt;x&gt;" in weird.text
    assert app.get("/queues/orders/job").status_code == 400
    assert add(app, "nope", {}).status_code == 404


def test_an_action_the_backend_cannot_do_answers_501_with_its_reason(
    manifest: Path, tmp_path: Path
) -> None:
    """SQS keeps no failed jobs and cannot reach a sent message: no retry or cancel button,
    and the routes answer 501 with the capability table's reason; no job list either."""
    from support import sqs

    with (
        sqs.backend_url(tmp_path) as url,
        TestClient(create_app(manifest=manifest, url=url), follow_redirects=False, **LOCAL) as c,
    ):
        token = csrf(c)["x-csrf-token"]
        retry = c.post("/queues/orders/job/actions/retry", data={"csrf": token, "id": "x"})
        assert retry.status_code == 501 and "use redrive" in retry.json()["error"]
        cancel = c.post("/queues/orders/job/actions/cancel", data={"csrf": token, "id": "x"})
        assert cancel.status_code == 501 and "SQS cannot reach" in cancel.json()["error"]
        clean = c.post("/queues/orders/actions/clean", data={"csrf": token, "status": "failed"})
        assert clean.status_code == 501 and "nothing to clean" in clean.json()["error"]
        unknown = c.post("/queues/orders/actions/explode", data={"csrf": token})
        assert unknown.status_code == 404
        queue = c.get("/queues/orders").text
        assert "No job list: sqs: SQS cannot list messages" in queue
        assert "retry all failed" not in queue and ">clean</button>" not in queue
        assert c.get("/api/queues").json()["throughput"]["orders"] is None


def test_job_text_is_escaped_everywhere(app: TestClient) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    order = {**ORDER, "note": hostile, "labels": {hostile: hostile}}
    assert add(app, "orders", order, job_id="p-2").status_code == 201
    page = app.get("/queues/orders/job?id=p-2").text
    assert hostile not in page
    assert str(markupsafe.escape(hostile)) in page


def test_on_sqs_a_job_is_added_but_has_no_page(manifest: Path, tmp_path: Path) -> None:
    from support import sqs

    with sqs.backend_url(tmp_path) as url:
        app = create_app(manifest=manifest, url=url)
        with TestClient(app, follow_redirects=False, **LOCAL) as client:
            answer = add(client, "orders", ORDER)
            assert answer.status_code == 201 and answer.json()["url"] is None
            job = client.get(f"/queues/orders/job?id={answer.json()['id']}")
            assert job.status_code == 501 and "cannot look jobs up" in job.text
            assert "cannot look a job up by id" in client.get("/queues/orders").text
            assert add(client, "orders", {**ORDER, "amount": -1}).status_code == 422


def test_a_bad_url_is_said_at_the_form_not_at_a_field(manifest: Path, tmp_path: Path) -> None:
    app = create_app(manifest=manifest, url=f"sqlite:///{tmp_path / 'jobs.db'}?nonsense=1")
    with TestClient(app, follow_redirects=False, **LOCAL) as client:
        answer = add(client, "orders", ORDER)
        assert answer.status_code == 422
        (error,) = answer.json()["errors"]
        assert error["loc"] == [] and "nonsense" in error["msg"]
        index = client.get("/")  # the queues are listed, the problem said once above them
        assert index.status_code == 200 and 'href="/queues/orders"' in index.text
        assert index.text.count('class="error banner"') == 1 and "nonsense" in index.text


def test_a_bad_url_is_not_taken_for_a_missing_job(manifest: Path, tmp_path: Path) -> None:
    app = create_app(manifest=manifest, url=f"sqlite:///{tmp_path / 'jobs.db'}?nonsense=1")
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False, **LOCAL) as c:
        answer = c.get("/queues/orders/job?id=abc", headers={"accept": "text/html"})
        assert answer.status_code == 503 and "nonsense" in answer.text


def test_a_password_in_the_url_never_reaches_the_page(manifest: Path) -> None:
    url = "postgresql://app:s3cret-pw@127.0.0.1:9/none?schema=qgen"
    with TestClient(create_app(manifest=manifest, url=url), **LOCAL) as client:
        page = client.get("/").text
        assert "s3cret-pw" not in page and "app:***@127.0.0.1:9" in page
        down = client.get("/queues/orders/job?id=abc", headers={"accept": "text/html"})
        assert down.status_code == 503 and "s3cret-pw" not in down.text


def test_on_sqs_counts_are_estimates_and_unknown_ones_say_so(
    manifest: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    from support import sqs
    from support.ops_pending import pending_on

    from qgen.runtime.capabilities import Feature

    pending_on("sqs", request, Feature.COUNTS)
    with (
        sqs.backend_url(tmp_path) as url,
        TestClient(create_app(manifest=manifest, url=url), follow_redirects=False, **LOCAL) as c,
    ):
        assert add(c, "echo", "hello").status_code == 201
        row = re.search(r'<tr data-queue="echo">.*?</tr>', c.get("/").text, re.S)
        assert row
        assert re.search(r'data-count="waiting">≈[01]<', row.group(0))  # an estimate
        assert 'data-count="completed"><span class="muted" title="this backend' in row.group(0)
        assert "?status=" not in row.group(0)  # SQS lists no jobs: no links to lists

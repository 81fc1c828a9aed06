"""Safe by default, over HTTP against the in-process app on a real SQLite queue file: loopback
only without a token, the token's login and session, CSRF on every POST, read-only mode,
security headers, no open redirect."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_harness import TOKEN, stored_jobs
from starlette.testclient import TestClient

from qgen import ConfigError
from qgen.dashboard import create_app

LOCAL = {"base_url": "http://127.0.0.1:8077", "client": ("127.0.0.1", 50000)}
GOOD_ORDER = {"order_id": "s-1", "amount": 5, "customer": {"name": "Ada"}}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


def make_client(manifest: Path, url: str, **kwargs: Any) -> Iterator[TestClient]:
    app = create_app(manifest=manifest, url=url, **kwargs)
    options = {**LOCAL, **kwargs.pop("_client", {})} if "_client" in kwargs else LOCAL
    with TestClient(app, follow_redirects=False, **options) as client:
        yield client


@pytest.fixture
def open_app(manifest: Path, url: str) -> Iterator[TestClient]:
    yield from make_client(manifest, url)


@pytest.fixture
def token_app(manifest: Path, url: str) -> Iterator[TestClient]:
    yield from make_client(manifest, url, token=TOKEN)


def csrf_of(html: str) -> str:
    found = re.search(r'(?:name="csrf" value|data-csrf)="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def log_in(client: TestClient) -> str:
    """Log in through the form; returns the CSRF token of the new session."""
    page = client.get("/login")
    answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": TOKEN, "next": "/"})
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    index = client.get("/", headers={"accept": "text/html"})
    assert index.status_code == 200
    return csrf_of(index.text)


def test_without_a_token_only_loopback_clients_are_served(manifest: Path, url: str) -> None:
    app = create_app(manifest=manifest, url=url)
    with TestClient(app, base_url="http://127.0.0.1", client=("10.1.2.3", 4000)) as remote:
        answer = remote.get("/")
        assert answer.status_code == 403
        assert "loopback" in answer.text
        assert "orders" not in answer.text
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 4000)) as local:
        assert local.get("/").status_code == 200


def test_without_a_token_a_foreign_host_header_is_refused(open_app: TestClient) -> None:
    # A page on another site that rebinds its name to 127.0.0.1 sends its own Host.
    assert open_app.get("/", headers={"host": "evil.example"}).status_code == 403
    assert open_app.get("/", headers={"host": "localhost:8077"}).status_code == 200
    assert open_app.get("/", headers={"host": "[::1]:8077"}).status_code == 200


def test_with_a_token_every_page_and_api_needs_it(token_app: TestClient) -> None:
    page = token_app.get("/queues/orders", headers={"accept": "text/html"})
    assert page.status_code == 401
    assert 'name="token"' in page.text and "Order" not in page.text
    assert "sqlite" not in page.text  # not even which backend, before logging in
    api = token_app.get("/api/queues", headers={"accept": "application/json"})
    assert api.status_code == 401 and api.json() == {"error": "authentication required"}
    assert token_app.get("/static/dashboard.js").status_code == 200  # assets are public


def test_a_non_loopback_app_answers_401_without_the_token(manifest: Path, url: str) -> None:
    app = create_app(manifest=manifest, url=url, token=TOKEN)
    remote = {"base_url": "http://dashboard.internal", "client": ("10.1.2.3", 4000)}
    with TestClient(app, follow_redirects=False, **remote) as client:
        assert client.get("/", headers={"accept": "text/html"}).status_code == 401
        assert client.get("/api/queues").status_code == 401
        bearer = {"authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/queues", headers=bearer).status_code == 200
        wrong = {"authorization": f"Bearer {TOKEN}x"}
        assert client.get("/api/queues", headers=wrong).status_code == 401


def test_login_sets_a_signed_strict_session_cookie(token_app: TestClient) -> None:
    csrf = log_in(token_app)
    assert csrf
    cookie = token_app.cookies.get("qgen_dashboard")
    assert cookie
    payload, stamp, signature = cookie.split(".")
    token_app.cookies.clear()
    token_app.cookies.set("qgen_dashboard", cookie)
    assert token_app.get("/", headers={"accept": "text/html"}).status_code == 200
    token_app.cookies.clear()
    token_app.cookies.set("qgen_dashboard", f"{payload}.{stamp}.{'A' * len(signature)}")
    assert token_app.get("/", headers={"accept": "text/html"}).status_code == 401


def test_login_cookie_flags(manifest: Path, url: str) -> None:
    for client in make_client(manifest, url, token=TOKEN):
        page = client.get("/login")
        answer = client.post("/login", data={"csrf": csrf_of(page.text), "token": TOKEN})
        flags = answer.headers["set-cookie"].lower()
        assert "httponly" in flags and "samesite=strict" in flags


def test_a_wrong_token_is_refused(token_app: TestClient) -> None:
    page = token_app.get("/login")
    answer = token_app.post("/login", data={"csrf": csrf_of(page.text), "token": "nope" * 5})
    assert answer.status_code == 303 and "failed=1" in answer.headers["location"]
    assert token_app.get(answer.headers["location"]).status_code == 401
    assert token_app.get("/", headers={"accept": "text/html"}).status_code == 401


def test_login_never_redirects_off_site(token_app: TestClient) -> None:
    page = token_app.get("/login")
    data = {"csrf": csrf_of(page.text), "token": TOKEN, "next": "//evil.example/x"}
    answer = token_app.post("/login", data=data)
    assert answer.headers["location"] == "/"


def test_login_without_csrf_is_refused(token_app: TestClient) -> None:
    token_app.get("/login")
    answer = token_app.post("/login", data={"token": TOKEN})
    assert answer.status_code == 403
    assert token_app.get("/", headers={"accept": "text/html"}).status_code == 401


def test_an_action_without_the_csrf_token_is_refused(token_app: TestClient, url: str) -> None:
    csrf = log_in(token_app)
    body = {"data": GOOD_ORDER}
    missing = token_app.post("/queues/orders/jobs", json=body)
    wrong = token_app.post("/queues/orders/jobs", json=body, headers={"x-csrf-token": "x" + csrf})
    assert missing.status_code == 403 and wrong.status_code == 403
    assert "CSRF" in missing.json()["error"]
    assert stored_jobs(url, "orders") == 0
    right = token_app.post("/queues/orders/jobs", json=body, headers={"x-csrf-token": csrf})
    assert right.status_code == 201
    assert stored_jobs(url, "orders") == 1


def test_read_only_hides_and_refuses_every_action(manifest: Path, url: str) -> None:
    for client in make_client(manifest, url, read_only=True):
        page = client.get("/queues/orders")
        assert page.status_code == 200
        assert 'id="add-job"' not in page.text and "read-only" in page.text
        csrf = csrf_of(page.text)
        headers = {"x-csrf-token": csrf}
        added = client.post("/queues/orders/jobs", json={"data": GOOD_ORDER}, headers=headers)
        assert added.status_code == 403
        for path in ("/queues/orders/actions/pause", "/queues/orders/job/actions/retry"):
            assert client.post(path, data={"csrf": csrf, "id": "a"}).status_code == 403
        assert stored_jobs(url, "orders") == 0


def test_every_response_carries_the_security_headers(open_app: TestClient) -> None:
    for path in ("/", "/queues/orders", "/static/dashboard.js", "/queues/nope"):
        headers = open_app.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"


def test_a_short_token_is_refused(manifest: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        create_app(manifest=manifest, url=url, token="short")

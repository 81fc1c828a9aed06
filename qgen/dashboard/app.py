"""``create_app``: the dashboard as an ASGI app (Starlette), served by ``qgen dashboard`` or
mounted in a user's own ASGI app::

    from qgen.dashboard import create_app
    from shop.generated.client import AsyncQueueClient

    app.mount("/queues", create_app(AsyncQueueClient("postgresql://..."), token=TOKEN))
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from qgen.dashboard import actions, overview, pages
from qgen.dashboard.data import DashboardData
from qgen.dashboard.project import Project, load_project, manifest_beside
from qgen.dashboard.security import SESSION_COOKIE, Gate, check_token, session_secret
from qgen.dashboard.throughput import ThroughputCache
from qgen.runtime.client import AsyncClientBase
from qgen.runtime.project_client import client_class

HERE = Path(__file__).resolve().parent
SESSION_MAX_AGE = 12 * 3600


@dataclass(frozen=True, slots=True)
class Settings:
    """What every handler reads from ``request.app.state.dashboard``."""

    project: Project
    data: DashboardData
    templates: jinja2.Environment
    read_only: bool
    token: str | None
    throughput: ThroughputCache


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every text from jobs is escaped; nothing is marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    pages.install_filters(env)
    return env


def _routes() -> list[Route | Mount]:
    return [
        Route("/", overview.index, name="index"),
        Route("/parts/queues", overview.queue_rows, name="queue_rows"),
        Route("/login", pages.login_form, methods=["GET"], name="login"),
        Route("/login", actions.login, methods=["POST"], name="login_post"),
        Route("/logout", actions.logout, methods=["POST"], name="logout"),
        Route("/queues/{queue}", overview.queue_page, name="queue"),
        Route("/queues/{queue}/parts/state", overview.queue_state, name="queue_state"),
        Route("/queues/{queue}/redrive", overview.redrive_page, name="redrive"),
        Route("/queues/{queue}/job", pages.job_page, name="job"),
        Route("/queues/{queue}/job/detail", pages.job_detail, name="job_detail"),
        Route("/queues/{queue}/jobs", actions.add_job, methods=["POST"], name="add_job"),
        Route(
            "/queues/{queue}/actions/{op}",
            actions.queue_action,
            methods=["POST"],
            name="queue_action",
        ),
        Route(
            "/queues/{queue}/job/actions/{op}",
            actions.job_action,
            methods=["POST"],
            name="job_action",
        ),
        Route("/api/queues", overview.api_queues, name="api_queues"),
        Route("/api/queues/{queue}/job", pages.api_job, name="api_job"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(
    client: AsyncClientBase | None = None,
    *,
    manifest: str | Path | None = None,
    url: str | None = None,
    token: str | None = None,
    read_only: bool = False,
    secure_cookies: bool = False,
) -> Starlette:
    """The dashboard of one built project.

    ``client``: the project's generated ``AsyncQueueClient`` (its ``manifest.json`` is found
    beside it); or ``manifest`` (path of ``manifest.json``) and ``url`` (else ``$QGEN_URL``,
    else the project's embedded file), and the app makes the client and closes it on shutdown.
    ``token``: required by every request (login form, then a session cookie); without one the
    app answers loopback clients only. ``read_only``: no action is shown or accepted.
    ``secure_cookies``: mark the session cookie Secure (serve over HTTPS)."""
    token = check_token(token)
    owned = client is None
    if client is None:
        if manifest is None:
            raise TypeError("create_app needs the generated client or manifest=")
        project = load_project(manifest)
        client = client_class(project.manifest)(url)
    else:
        project = load_project(manifest if manifest is not None else manifest_beside(client))
    data = DashboardData(client)
    settings = Settings(project, data, _templates(), read_only, token, ThroughputCache(data))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                await settings.data.client.close()

    app = Starlette(
        routes=_routes(),
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(token),
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_MAX_AGE,
                same_site="strict",
                https_only=secure_cookies,
            ),
            Middleware(Gate, token=token, login_page=pages.login_form),
        ],
        exception_handlers=pages.EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.dashboard = settings
    return app

"""The pages' shared parts (rendering, the queue and job of a request, error pages), one
job's page with its live part and JSON, and the login form. The queue list and one queue's
page are in :mod:`.overview`. Every text from jobs reaches HTML only through the
autoescaping templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.datastructures import URL
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from qgen import JobInfo, JobStatus, QgenError
from qgen.dashboard.data import CANCELLABLE, RETRYABLE, OperationUnavailable, timestamp
from qgen.dashboard.project import QueueView
from qgen.dashboard.schema_view import view
from qgen.dashboard.security import csrf_token, safe_next
from qgen.runtime.capabilities import Feature, supports
from qgen.runtime.urls import mask_url

if TYPE_CHECKING:
    from qgen.dashboard.app import Settings


def path_for(request: Request, name: str, **params: Any) -> URL:
    """A route's URL as a path (with any mount prefix), so links keep the scheme and host the
    browser used, also behind a proxy."""
    return URL(request.url_for(name, **params).path)


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.dashboard
    return value


def install_filters(env: jinja2.Environment) -> None:
    env.filters["time"] = timestamp
    env.filters["json"] = lambda v: json.dumps(v, ensure_ascii=False, indent=2, sort_keys=True)
    env.filters["compact"] = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    # tojson (Jinja's own) escapes <, >, & and ' so the schema is safe inside a script block.


PARTS = frozenset({"queue_rows.html", "queue_state.html", "job_detail.html"})


def render(request: Request, name: str, context: Mapping[str, Any], status: int = 200) -> Response:
    s = settings(request)
    base = {
        "request": request,
        "url_for": lambda name, **params: path_for(request, name, **params),
        "csrf": csrf_token(request),
        "read_only": s.read_only,
        "has_token": s.token is not None,
        "signed_in": s.token is not None and request.session.get("auth") is True,
        "backend": s.data.backend,
        "shown_url": mask_url(s.data.client.url),
        "ops": s.data.operations(),
        # a live part (polled) leaves the message of the last action to the page it is for
        "flash": None if name in PARTS else request.session.pop("flash", None),
    }
    html = s.templates.get_template(name).render({**base, **context})
    return HTMLResponse(html, status_code=status)


def queue_of(request: Request) -> QueueView:
    name = request.path_params["queue"]
    queue = settings(request).project.queues.get(name)
    if queue is None:
        raise HTTPException(404, f"no queue {name!r} in this project")
    return queue


def job_id_of(request: Request) -> str:
    job_id = request.query_params.get("id", "").strip()
    if not job_id:
        raise HTTPException(400, "which job? give ?id=")
    return job_id


def job_context(queue: QueueView, info: JobInfo) -> dict[str, Any]:
    """What the job page shows; fields the operator API adds to JobInfo (started_at, worker,
    ...) appear as soon as JobInfo has them."""
    finished = info.status.finished
    progress = info.progress
    return {
        "queue": queue,
        "job": info,
        "finished": finished,
        "failed": info.status in (JobStatus.FAILED, JobStatus.DISCARDED),
        "can_retry": info.status in RETRYABLE,
        "can_cancel": info.status in CANCELLABLE,
        "progress_percent": progress if isinstance(progress, int | float) else None,
        "progress_other": None if isinstance(progress, int | float) else progress,
        "data_view": view(info.data, queue.input_schema),
        "result_view": (
            view(info.result, queue.output_schema)
            if queue.output_schema is not None and info.status is JobStatus.COMPLETED
            else None
        ),
        "times": [
            (label, getattr(info, attr, None))
            for label, attr in (
                ("created", "created_at"),
                ("run at", "run_at"),
                ("started", "started_at"),
                ("finished", "finished_at"),
            )
            if getattr(info, attr, None) is not None
        ],
        "extra": [
            (label, getattr(info, attr, None))
            for label, attr in (
                ("worker", "worker"),
                ("priority", "priority"),
                ("dead letter of", "dead_letter_of"),
            )
            if getattr(info, attr, None) is not None
        ],
    }


async def _job_or_404(request: Request) -> tuple[QueueView, JobInfo]:
    queue = queue_of(request)
    job_id = job_id_of(request)
    info = await settings(request).data.job(queue.name, job_id)
    if info is None:
        raise HTTPException(404, f"no job {job_id!r} in queue {queue.name!r}")
    return queue, info


async def job_page(request: Request) -> Response:
    if not supports(Feature.STATUS, settings(request).data.backend):
        raise HTTPException(
            501, f"the {settings(request).data.backend} backend cannot look jobs up by id"
        )
    queue, info = await _job_or_404(request)
    return render(request, "job.html", job_context(queue, info))


async def job_detail(request: Request) -> Response:
    """The job page's live part, polled by the page's script while the job runs."""
    queue, info = await _job_or_404(request)
    return render(request, "job_detail.html", job_context(queue, info))


async def api_job(request: Request) -> Response:
    queue, info = await _job_or_404(request)
    return JSONResponse(
        {
            "id": info.id,
            "queue": queue.name,
            "status": info.status.value,
            "progress": info.progress,
            "result": info.result,
            "error": info.error.to_json() if info.error else None,
            "attempts_made": info.attempts_made,
            "max_attempts": info.max_attempts,
            "created_at": info.created_at,
            "finished_at": info.finished_at,
        }
    )


async def login_form(request: Request) -> Response:
    """The login page; also what the gate shows (with 401) in place of any page before login,
    with that page as the place to return to."""
    s = settings(request)
    login_path = str(path_for(request, "login"))
    path, query = request.url.path, request.url.query
    here = "" if path == login_path else f"{path}?{query}" if query else path
    target = safe_next(request.query_params.get("next")) or safe_next(here)
    if s.token is None or request.session.get("auth") is True:
        return RedirectResponse(target or str(path_for(request, "index")), status_code=303)
    failed = request.query_params.get("failed") == "1"
    status = 401 if failed else 200
    return render(request, "login.html", {"next": target, "failed": failed}, status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "text/html" in request.headers.get("accept", "") and request.method == "GET":
        context = {"status": exc.status_code, "message": exc.detail}
        return render(request, "error.html", context, exc.status_code)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


async def _queue_error(request: Request, exc: Exception) -> Response:
    """The backend refused or could not be reached (a bad URL, a server down): say so; qgen's
    messages mask passwords in URLs."""
    return await _http_error(request, HTTPException(503, str(exc)))


async def _unavailable(request: Request, exc: Exception) -> Response:
    """The backend cannot do this (the capability table's or its own reason)."""
    return await _http_error(request, HTTPException(501, str(exc)))


EXCEPTION_HANDLERS = {
    HTTPException: _http_error,
    QgenError: _queue_error,
    OperationUnavailable: _unavailable,
}

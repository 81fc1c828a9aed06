"""The actions (POST): log in and out, add a job, and the operator actions. Each one checks
the session's CSRF token; every action but logging in and out is refused in read-only mode."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from qgen import ConfigError, QgenError, ValidationFailed
from qgen.dashboard.data import (
    JOB_ACTIONS,
    LIST_STATUSES,
    QUEUE_ACTIONS,
    AddRequest,
    OperationUnavailable,
)
from qgen.dashboard.pages import path_for, queue_of, settings
from qgen.dashboard.security import csrf_ok, safe_next, same_secret
from qgen.runtime.backends.ops import RedriveReport
from qgen.runtime.capabilities import Feature, supports

log = logging.getLogger("qgen.dashboard")
MAX_BODY = 2 * 1024 * 1024  # an added job's JSON; backends refuse far smaller payloads anyway
FAILED_LOGIN_DELAY = 1.0
Handler = Callable[[Request], Awaitable[Response]]


def guarded(*, allow_read_only: bool = False) -> Callable[[Handler], Handler]:
    """Refuse the POST without the session's CSRF token, and in read-only mode."""

    def wrap(handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            if not allow_read_only and settings(request).read_only:
                raise HTTPException(403, "this dashboard is read-only")
            if not await csrf_ok(request):
                raise HTTPException(403, "missing or wrong CSRF token; reload the page")
            return await handler(request)

        checked.__name__ = handler.__name__
        checked.__doc__ = handler.__doc__
        return checked

    return wrap


@guarded(allow_read_only=True)
async def login(request: Request) -> Response:
    s = settings(request)
    form = await request.form()
    target = safe_next(form.get("next")) or str(path_for(request, "index"))
    given = form.get("token")
    if s.token is None or not same_secret(given if isinstance(given, str) else None, s.token):
        await asyncio.sleep(FAILED_LOGIN_DELAY)  # slows guessing; other requests go on
        failed = path_for(request, "login").include_query_params(failed="1", next=target)
        return RedirectResponse(str(failed), status_code=303)
    request.session.clear()  # a new session (and CSRF token) after logging in
    request.session["auth"] = True
    return RedirectResponse(target, status_code=303)


@guarded(allow_read_only=True)
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse(str(path_for(request, "login")), status_code=303)


def _field_errors(exc: ValidationFailed) -> list[dict[str, Any]]:
    errors = [
        {"loc": [p for p in e.get("loc", ()) if isinstance(p, str | int)], "msg": str(e["msg"])}
        for e in exc.errors
        if "msg" in e
    ]
    return errors or [{"loc": [], "msg": str(exc)}]


async def _add_request(request: Request) -> AddRequest:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, f"the job is larger than {MAX_BODY} bytes")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise HTTPException(400, f"the body is not JSON: {exc}") from None
    if not isinstance(parsed, dict) or "data" not in parsed:
        raise HTTPException(400, 'send {"data": ..., "options": {...}}')
    options = parsed.get("options") or {}
    if not isinstance(options, dict):
        raise HTTPException(400, "options must be an object")
    job_id, delay, priority = options.get("job_id"), options.get("delay"), options.get("priority")
    if job_id is not None and not isinstance(job_id, str):
        raise HTTPException(400, "options.job_id must be a string")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, int | float)):
        raise HTTPException(400, "options.delay must be a number of seconds")
    if priority is not None and (isinstance(priority, bool) or not isinstance(priority, int)):
        raise HTTPException(400, "options.priority must be an integer")
    return AddRequest(parsed["data"], job_id=job_id, delay=delay, priority=priority)


@guarded()
async def add_job(request: Request) -> Response:
    """Add a job (JSON body ``{"data": ..., "options": {...}}``) through the client, which
    validates it again; 422 with the field errors, 201 with the job's id and page."""
    queue = queue_of(request)
    add = await _add_request(request)
    try:
        job_id = await settings(request).data.add(queue.name, add)
    except ValidationFailed as exc:
        return JSONResponse({"errors": _field_errors(exc)}, status_code=422)
    except ConfigError as exc:  # an option the client refuses (job id rule, delay, ...), or
        # the URL: the client checks options before it connects, so without options it is that
        where = ["options"] if add.options() else []
        return JSONResponse({"errors": [{"loc": where, "msg": str(exc)}]}, 422)
    except QgenError as exc:  # the backend refused or is unreachable; the text masks secrets
        return JSONResponse({"errors": [{"loc": [], "msg": str(exc)}]}, status_code=503)
    page = path_for(request, "job", queue=queue.name).include_query_params(id=job_id)
    if not supports(Feature.STATUS, settings(request).data.backend):  # SQS: no page to show
        return JSONResponse({"id": job_id, "url": None}, status_code=201)
    return JSONResponse({"id": job_id, "url": str(page)}, status_code=201)


def _queue_params(op: str, form: FormData) -> dict[str, Any]:
    """The form fields of a queue action, as the client's keyword arguments (ValueError for a
    number that is not one; the client checks ranges)."""
    if op == "clean":
        older = str(form.get("older_than") or "").strip()
        keep = str(form.get("keep") or "").strip()
        return {
            "status": str(form.get("status") or ""),
            "older_than": float(older) if older else None,
            "keep": int(keep) if keep else None,
        }
    return {}


def _queue_message(queue: str, op: str, params: dict[str, Any], outcome: Any) -> str:
    if op == "pause":
        return f"Paused {queue}: workers take no new jobs from it; running ones finish."
    if op == "resume":
        return f"Resumed {queue}."
    if op == "retry_failed":
        return f"{outcome} failed job{'s' if outcome != 1 else ''} of {queue} will run again."
    if op == "clean":
        return f"Deleted {outcome} {params['status']} job{'s' if outcome != 1 else ''}."
    report: RedriveReport = outcome
    kept = f"; {len(report.kept)} kept (their data fails the current schema)" if report.kept else ""
    return f"Moved {len(report.moved)} dead letter(s) back to {queue}{kept}."


def _job_message(job_id: str, op: str, done: bool) -> str:
    if op == "retry":
        if done:
            return f"Job {job_id} will run again."
        return f"Job {job_id} was not retried: only failed, discarded or cancelled jobs can be."
    if done:
        return f"Job {job_id} is cancelled (a running job is asked to stop)."
    return f"Job {job_id} was not cancelled: it had already finished."


async def _run_action(request: Request, call: Awaitable[Any]) -> Any:
    try:
        return await call
    except OperationUnavailable as exc:
        raise HTTPException(501, str(exc)) from None
    except ConfigError as exc:  # a value the client refuses (status, age, no dead letter)
        raise HTTPException(400, str(exc)) from None
    except QgenError as exc:  # the backend refused or is unreachable; the text masks secrets
        raise HTTPException(503, str(exc)) from None


def _done(request: Request, message: str, back: str, outcome: Any) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        plain = outcome.as_dict() if hasattr(outcome, "as_dict") else outcome
        return JSONResponse({"ok": True, "message": message, "outcome": plain})
    request.session["flash"] = message
    return RedirectResponse(back, status_code=303)


@guarded()
async def queue_action(request: Request) -> Response:
    queue = queue_of(request)
    op = request.path_params["op"]
    if op not in QUEUE_ACTIONS:
        raise HTTPException(404, f"no queue action {op!r}")
    form = await request.form()
    try:
        params = _queue_params(op, form)
    except ValueError as exc:
        raise HTTPException(400, f"bad value: {exc}") from None
    back = path_for(request, "queue", queue=queue.name)
    status = form.get("back_status")
    if isinstance(status, str) and status in LIST_STATUSES:
        back = back.include_query_params(status=status)
    outcome = await _run_action(
        request, settings(request).data.queue_action(queue.name, op, params)
    )
    return _done(request, _queue_message(queue.name, op, params, outcome), str(back), outcome)


@guarded()
async def job_action(request: Request) -> Response:
    queue = queue_of(request)
    form = await request.form()
    job_id = form.get("id")
    if not isinstance(job_id, str) or not job_id:
        raise HTTPException(400, "which job? send the form field id")
    op = request.path_params["op"]
    if op not in JOB_ACTIONS:
        raise HTTPException(404, f"no job action {op!r}")
    back = str(path_for(request, "job", queue=queue.name).include_query_params(id=job_id))
    status = form.get("back_status")  # sent from a job list: back to that list
    if isinstance(status, str) and status in LIST_STATUSES:
        back = str(path_for(request, "queue", queue=queue.name).include_query_params(status=status))
    done = await _run_action(request, settings(request).data.job_action(queue.name, job_id, op))
    return _done(request, _job_message(job_id, op, done), back, done)

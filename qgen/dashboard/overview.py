"""The queue list and one queue's page, with the parts their script polls to stay live (the
queue rows, a queue's counts and paused state) and the redrive dry run. Counts, job lists
and throughput come through :class:`.data.DashboardData`; a part the backend cannot give is
left out with the reason."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from qgen import ConfigError, QgenError
from qgen.dashboard.data import FINISHED_STATUSES, LIST_STATUSES, Read
from qgen.dashboard.pages import path_for, queue_of, render, settings
from qgen.dashboard.project import QueueView, backend_features
from qgen.runtime.backends.ops import WORKER_LISTED_FOR, decode_cursor
from qgen.runtime.capabilities import Feature, supports

PAGE_SIZE = 50
PREVIEW_SHOWN = 200  # dead letters a dry run lists with their data


async def _rows(request: Request) -> dict[str, Any]:
    """Per queue: counts (a Read) and throughput, for the queue table and its live part."""
    s = settings(request)
    counts = {name: await s.data.counts(name) for name in s.project.queues}
    reachable = any(c.value is not None for c in counts.values())
    throughput = {
        name: await s.throughput.get(name) if reachable else None for name in s.project.queues
    }
    problems = sorted({c.problem for c in counts.values() if c.problem})
    return {
        "queues": list(s.project.queues.values()),
        "counts": {name: c.value for name, c in counts.items()},
        "throughput": throughput,
        "problems": problems,
        "statuses": LIST_STATUSES,
    }


async def index(request: Request) -> Response:
    s = settings(request)
    context = await _rows(request)
    return render(request, "index.html", {**context, "features": backend_features(s.data.backend)})


async def queue_rows(request: Request) -> Response:
    """The queue table's body, polled by the queue list every 2 s."""
    return render(request, "queue_rows.html", await _rows(request))


async def api_queues(request: Request) -> Response:
    """Per queue: counts and throughput (null where the backend cannot give them)."""
    s = settings(request)
    context = await _rows(request)
    return JSONResponse(
        {
            "backend": s.data.backend,
            "counts": {
                name: None if c is None else c.as_dict() for name, c in context["counts"].items()
            },
            "throughput": {
                name: None if t is None else t.to_json()
                for name, t in context["throughput"].items()
            },
            "problems": context["problems"],
        }
    )


async def _state(request: Request, queue: QueueView) -> dict[str, Any]:
    data = settings(request).data
    counts: Read = await data.counts(queue.name)
    workers: Read = await data.workers(queue.name) if counts.value is not None else Read()
    return {
        "queue": queue,
        "counts": counts.value,
        "counts_problem": counts.problem,
        "workers": workers.value,
        "listed_for": WORKER_LISTED_FOR,
        "statuses": LIST_STATUSES,
    }


async def queue_state(request: Request) -> Response:
    """A queue's counts, paused state and pause/resume button, polled by its page."""
    return render(request, "queue_state.html", await _state(request, queue_of(request)))


async def _job_list(request: Request, queue: QueueView, status: str) -> Read:
    cursor = request.query_params.get("cursor") or None
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except ConfigError as exc:  # a cursor from elsewhere
            raise HTTPException(400, str(exc)) from None
    return await settings(request).data.jobs(queue.name, status, PAGE_SIZE, cursor)


async def queue_page(request: Request) -> Response:
    s = settings(request)
    queue = queue_of(request)
    if request.query_params.get("id"):  # the "find a job" form
        target = path_for(request, "job", queue=queue.name).include_query_params(
            id=request.query_params["id"].strip()
        )
        return RedirectResponse(str(target), status_code=303)
    status = request.query_params.get("status", "failed")
    if status not in LIST_STATUSES:
        raise HTTPException(400, f"unknown status {status!r}")
    backend = s.data.backend
    listing = await _job_list(request, queue, status)
    return render(
        request,
        "queue.html",
        {
            **await _state(request, queue),
            "key_support": queue.key_support(backend),
            "warnings": queue.warnings.get(backend, ()),
            "status": status,
            "statuses": LIST_STATUSES,
            "finished_statuses": FINISHED_STATUSES,
            "page": listing.value,
            "page_problem": listing.problem,
            "first_page": not request.query_params.get("cursor"),
            "row_action": _row_action(request, status),
            "can_delay": supports(Feature.DELAY, backend),
            "can_priority": supports(Feature.PRIORITY, backend),
            "can_job_id": supports(Feature.JOB_ID, backend),
            "can_status": supports(Feature.STATUS, backend),
        },
    )


async def _data_of(request: Request, queue: str, job_id: str) -> Any:
    """A dead letter's stored data, or None where the backend cannot look jobs up."""
    s = settings(request)
    if not supports(Feature.STATUS, s.data.backend):
        return None
    try:
        info = await s.data.job(queue, job_id)
    except QgenError:
        return None
    return None if info is None else info.data


def _row_action(request: Request, status: str) -> str | None:
    """The action each listed job gets a button for: retry where jobs have ended without
    completing, cancel where they have not started or still run; none when read-only."""
    s = settings(request)
    if s.read_only:
        return None
    if status in ("failed", "discarded", "cancelled") and s.data.available("retry"):
        return "retry"
    if status in ("waiting", "delayed", "active") and s.data.available("cancel"):
        return "cancel"
    return None


async def redrive_page(request: Request) -> Response:
    """The dry run of a redrive: which dead letters would move back, and which would not
    (their data fails the queue's current input schema), with that data and the error."""
    s = settings(request)
    queue = queue_of(request)
    if queue.dead_letter is None:
        raise HTTPException(404, f"queue {queue.name!r} has no dead_letter queue")
    report = await s.data.redrive_preview(queue.name)
    kept = []
    for job_id, error in report.kept[:PREVIEW_SHOWN]:
        stored_as = report.dead_letter_ids.get(job_id, job_id)  # Redis: the copy's id
        data = await _data_of(request, queue.dead_letter, stored_as)
        kept.append({"id": job_id, "error": error, "data": data})
    return render(
        request,
        "redrive.html",
        {
            "queue": queue,
            "moved": report.moved,
            "kept": kept,
            "kept_total": len(report.kept),
            "shown": PREVIEW_SHOWN,
        },
    )

"""Redrive on Redis (issue 14): dead-letter copies back to the queue they failed on.

A copy is the job the worker added to the dead-letter queue with the id ``<queue>-<id>`` and
``qgenDlq: {queue, id}`` in its BullMQ options (:mod:`.outcomes`). A redrive reads every copy
in the dead-letter queue (any status but active) whose source is the target, oldest first,
validates its data with the client's check, and moves the valid ones back under the original
id: a failed (or completed) original becomes waiting again with the copy's data and fresh
attempts (BullMQ's ``updateData`` and ``reprocessJob`` with qgen's fields cleared, one
MULTI/EXEC on the target queue's keys), an original that retention removed is added again with
that id; then the copy is removed (BullMQ's ``removeJob``). The two queues' keys may live on
different Redis Cluster nodes, so the two steps are not one transaction: target first, so a
crash between them leaves the copy behind (reported as kept by the next redrive, since the
original is then waiting), never a lost job.

The trace context (issue 17, option ``tm``) comes back with the job: a failed original keeps
its own options, a re-added one gets the copy's (copies written before copies kept it have
none: the job runs in a new trace, as before).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from qgen.runtime.backends import jobmeta
from qgen.runtime.backends.base import AddOptions
from qgen.runtime.backends.ops import RedriveReport, Validate, dead_letter_problem
from qgen.runtime.backends.redis.jobs import DLQ_OPTION, TELEMETRY_FIELD, job_opts
from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.ops_list import OpsHost
from qgen.runtime.backends.redis.scripts import Call

READ_CHUNK = 500
# A dead letter: (copy id, original id, data text, the copy's metadata: its trace context).
DeadLetter = tuple[str, str, str, Mapping[str, str] | None]


async def redrive(
    ops: OpsHost,
    dead_letter_queue: str,
    target: str,
    limit: int | None,
    validate: Validate,
    dry_run: bool,
) -> RedriveReport:
    report = RedriveReport(dry_run=dry_run)
    for copy_id, original, text, meta in await _dead_letters(ops, dead_letter_queue, target):
        if limit is not None and len(report.moved) >= limit:
            break
        problem = dead_letter_problem(text, validate)
        if problem is not None:
            _keep(report, original, copy_id, problem)
        elif dry_run:
            report.moved.append(original)
        else:
            why = await _move(ops, target, original, text, meta)
            if why is None:
                dk = ops.catalog.keys(dead_letter_queue)
                await ops.scripts.call(
                    "removeJob", [dk.job(copy_id), dk.repeat], [copy_id, 1, dk.base]
                )
                report.moved.append(original)
            else:
                _keep(report, original, copy_id, why)
    return report


def _keep(report: RedriveReport, original: str, copy_id: str, why: str) -> None:
    """Listed under the job's own id, as every backend lists moved and kept jobs (the copy's
    id, ``<queue>-<id>``, is where the dead letter can be looked up)."""
    report.kept.append((original, why))
    report.dead_letter_ids[original] = copy_id


async def _dead_letters(ops: OpsHost, dlq: str, target: str) -> list[DeadLetter]:
    """``target``'s copies in ``dlq``, oldest first."""
    k = ops.catalog.keys(dlq)
    pipe = ops.redis.pipeline(transaction=False)
    for key in (k.wait, k.paused):
        pipe.lrange(key, 0, -1)
    for key in (k.prioritized, k.delayed, k.failed, k.completed):
        pipe.zrange(key, 0, -1)
    ids = list(dict.fromkeys(i for found in await pipe.execute() for i in found))
    out: list[tuple[int, DeadLetter]] = []
    for start in range(0, len(ids), READ_CHUNK):
        chunk = ids[start : start + READ_CHUNK]
        pipe = ops.redis.pipeline(transaction=False)
        for copy_id in chunk:
            pipe.hmget(k.job(copy_id), "opts", "data", "timestamp")
        for copy_id, (opts, data, ts) in zip(chunk, await pipe.execute(), strict=True):
            parsed = job_opts({"opts": opts})
            source = parsed.get(DLQ_OPTION)
            if isinstance(source, dict) and source.get("queue") == target and "id" in source:
                meta = jobmeta.decode(parsed.get(TELEMETRY_FIELD))
                out.append((_int(ts), (copy_id, str(source["id"]), data or "null", meta)))
    out.sort(key=lambda found: (found[0], found[1][0]))
    return [letter for _, letter in out]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


async def _move(
    ops: OpsHost, target: str, original: str, text: str, meta: Mapping[str, str] | None
) -> str | None:
    """The original back to waiting in ``target`` with the copy's data; why not, or None."""
    k = ops.catalog.keys(target)
    job = k.job(original)
    state = str(await ops.scripts.call("getStateV2", k.get_state(), [original, job]))
    if state == "unknown":  # removed by retention or clean: added again under its id
        call = ops.catalog.builder(target).add_call(
            json.loads(text), AddOptions(meta=meta), trusted_id=original
        )
        await ops.scripts.call(*call)
        return None
    if state not in ("failed", "completed"):
        return f"a job {original!r} is {state} in {target!r}"
    calls: list[Call] = [("updateData", [job], [text])]
    if state == "failed":
        calls.append(("qgenUnmark", _marked(k, job), [original]))
    prop = "failedReason" if state == "failed" else "returnvalue"
    keys = [job, k.events, getattr(k, state), k.wait, k.meta, k.active, k.marker]
    calls.append(
        ("reprocessJob", [*keys, k.prioritized, k.pc], [original, "LPUSH", prop, state, 1, 1])
    )
    replies = await ops.atomic(calls)
    return None if replies[-1] == 1 else f"the job {original!r} changed state in {target!r}"


def _marked(k: QueueKeys, job: str) -> list[str]:
    return [k.failed, job, k.marked("discarded"), k.marked("cancelled")]

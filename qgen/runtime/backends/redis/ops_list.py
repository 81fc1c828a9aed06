"""Listing a Redis queue's jobs by status, newest first, with keyset cursors (issue 14).

Each status reads BullMQ's own structures, so jobs Node added are listed too:

- completed, failed, delayed: BullMQ's sorted sets, scored by finish time (delayed: by due
  time, BullMQ's ``due ms * 4096 + counter``). A page is a ``ZREVRANGEBYSCORE`` below the
  cursor's score, ties at that score by id (``ops_lua.qgenPage``). Failed skips the jobs in
  qgen's discarded and cancelled sets; those two list their own set's members still failed.
- waiting (wait, paused, prioritized, waiting-children) and active (the active list): not
  scored by time, so each job's ``timestamp`` (waiting) or ``processedOn`` (active) is read,
  :data:`BY_FIELD_CHUNK` jobs per script call (``ops_lua.qgenPageByField``), and the newest
  below the cursor kept: one pass over the jobs in that status per page, never holding Redis
  for long.

Why pages stay stable: a cursor is the (time, id) of the last job listed, and the next page is
the jobs strictly below it in that order, never an offset. A job that moves to another status
leaves the order without shifting the others; a job that arrives has a newer time than every
listed one (waiting, active, finished) and falls before the cursor, so no page repeats or skips
a job that stayed. A delayed job's time is when it is due; a retried job gets a new one.
"""

from __future__ import annotations

import heapq
from typing import Any, Protocol

from redis.asyncio import Redis

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.backends.ops import decode_cursor, encode_cursor
from qgen.runtime.backends.redis.jobs import Catalog, job_info
from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.scripts import Call
from qgen.runtime.backends.redis.transport import Scripts
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import SettingsBook

LOOK_AT = 20_000  # ids a finished-status page looks at, at most, before it hands a cursor back
BY_FIELD_CHUNK = 2_000  # waiting / active jobs one script call reads

_SCORED = {
    JobStatus.COMPLETED: ("completed", "plain"),
    JobStatus.FAILED: ("failed", "exclude"),
    JobStatus.DELAYED: ("delayed", "plain"),
    JobStatus.DISCARDED: ("discarded", "within"),
    JobStatus.CANCELLED: ("cancelled", "within"),
}
_STATE = {  # the getState name job_info reads
    JobStatus.WAITING: "waiting",
    JobStatus.ACTIVE: "active",
    JobStatus.DELAYED: "delayed",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.DISCARDED: "failed",
    JobStatus.CANCELLED: "failed",
}


class OpsHost(Protocol):
    """What the listing and the redrive need of the backend (``ops.RedisOps``)."""

    catalog: Catalog
    settings: SettingsBook
    scripts: Scripts

    @property
    def redis(self) -> Redis: ...

    async def atomic(self, calls: list[Call]) -> list[Any]: ...


def _ms(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def _score(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _sorted_set(k: QueueKeys, status: JobStatus) -> tuple[str, str]:
    name, mode = _SCORED[status]
    key = k.marked(name) if mode == "within" else getattr(k, name)
    return key, mode


async def page(
    ops: OpsHost, queue: str, status: JobStatus, limit: int, cursor: str | None
) -> tuple[list[JobInfo], str | None]:
    k = ops.catalog.keys(queue)
    after = decode_cursor(cursor) if cursor is not None else None
    top, after_id = ("", "") if after is None else (_score(after[0]), after[1])
    if status in (JobStatus.WAITING, JobStatus.ACTIVE):
        found = await _by_field(ops, k, status, top, after_id, limit + 1)
    elif status in _SCORED:
        key, mode = _sorted_set(k, status)
        keys = [key, k.failed, k.marked("discarded"), k.marked("cancelled")]
        args = [mode, top or "+inf", after_id, limit + 1, LOOK_AT]
        flat = await ops.scripts.call("qgenPage", keys, args)
        found = [(str(flat[i]), str(flat[i + 1])) for i in range(0, len(flat) - 1, 2)]
    else:
        raise ConfigError(f"jobs cannot be listed by status {status.value!r}")
    resume: tuple[float, str] | None = None
    if found and found[-1][0] == "":  # it looked at LOOK_AT ids: go on from the last one
        score, _, last_id = found.pop()[1].partition(" ")
        resume = (float(score), last_id)
    shown = found[:limit]
    infos = await _infos(ops, queue, status, shown)
    if len(found) > limit:
        return infos, encode_cursor(float(shown[-1][1]), shown[-1][0])
    if resume is not None:
        return infos, encode_cursor(*resume)
    return infos, None


async def _by_field(
    ops: OpsHost, k: QueueKeys, status: JobStatus, top: str, after_id: str, want: int
) -> list[tuple[str, str]]:
    """The newest ``want`` waiting (by ``timestamp``) or active (by ``processedOn``) jobs below
    the cursor, read chunk by chunk from each of BullMQ's structures for that status."""
    if status is JobStatus.WAITING:
        field = "timestamp"
        where = [(k.wait, "list"), (k.paused, "list"), (k.prioritized, "zset")]
        where.append((k.waiting_children, "zset"))
    else:
        field, where = "processedOn", [(k.active, "list")]
    found: dict[str, float] = {}
    for key, kind in where:
        start = "0" if kind == "list" else "-inf"
        while True:
            args = [k.base, field, top, after_id, kind, start, BY_FIELD_CHUNK]
            reply = await ops.scripts.call("qgenPageByField", [key], args)
            for i in range(1, len(reply) - 1, 2):
                found[str(reply[i])] = _ms(reply[i + 1])
            if not reply[0]:
                break
            start = str(reply[0])
    best = heapq.nlargest(want, found.items(), key=lambda item: (item[1], item[0].encode()))
    return [(job_id, _score(at)) for job_id, at in best]


async def _infos(
    ops: OpsHost, queue: str, status: JobStatus, found: list[tuple[str, str]]
) -> list[JobInfo]:
    k = ops.catalog.keys(queue)
    pipe = ops.redis.pipeline(transaction=False)
    for job_id, _ in found:
        pipe.hgetall(k.job(job_id))
    hashes = await pipe.execute() if found else []
    default = ops.settings[queue].attempts
    out: list[JobInfo] = []
    for (job_id, score), fields in zip(found, hashes, strict=True):
        if not fields:
            continue  # removed between the page and the read
        due = float(score) if status is JobStatus.DELAYED else None
        out.append(job_info(queue, job_id, fields, _STATE[status], default, due))
    return out


async def _marked(client: Redis, k: QueueKeys) -> set[str]:
    pipe = client.pipeline(transaction=False)
    pipe.zrange(k.marked("discarded"), 0, -1)
    pipe.zrange(k.marked("cancelled"), 0, -1)
    discarded, cancelled = await pipe.execute()
    return {str(i) for i in discarded} | {str(i) for i in cancelled}


async def _scored(client: Redis, key: str) -> list[tuple[str, float]]:
    """Members of a sorted set with their scores, highest first."""
    found: Any = await client.zrevrange(key, 0, -1, withscores=True)
    return [(str(member), float(score)) for member, score in found]


async def failed_oldest_first(client: Redis, k: QueueKeys) -> list[str]:
    """Ids of the queue's failed jobs (not discarded, not cancelled), oldest first."""
    marked = await _marked(client, k)
    return [
        job_id for job_id, _ in reversed(await _scored(client, k.failed)) if job_id not in marked
    ]


async def finished_newest_first(
    client: Redis, k: QueueKeys, status: JobStatus
) -> list[tuple[str, float]]:
    """(id, finish ms) of the queue's jobs in a finished ``status``, newest first."""
    if status is JobStatus.COMPLETED:
        return await _scored(client, k.completed)
    failed = await _scored(client, k.failed)
    if status is JobStatus.FAILED:
        marked = await _marked(client, k)
        return [(i, s) for i, s in failed if i not in marked]
    name = "discarded" if status is JobStatus.DISCARDED else "cancelled"
    members: Any = await client.zrange(k.marked(name), 0, -1)
    inside = {str(m) for m in members}
    return [(i, s) for i, s in failed if i in inside]

"""The operator API of the Redis backend (issue 14), mixed into :class:`.RedisBackend`, done the
way BullMQ does it so Node BullMQ and Bull Board see the same state:

- counts: BullMQ's ``getCounts`` (waiting = wait + paused + prioritized + waiting-children),
  with discarded and cancelled told apart inside BullMQ's failed set (``ops_lua.qgenSubsets``);
- pause / resume: BullMQ's ``pause`` script (the ``paused`` field of the queue's meta hash, which
  every fetch script of Node's workers and qgen's reads); ``is_paused`` reads that field;
- retry: BullMQ's ``reprocessJob`` (attempts reset), in one transaction with the clearing of
  qgen's own fields; cancel: ``ops_lua.qgenCancel``; clean: BullMQ's ``cleanJobsInSet``
  (completed, by age) or ``removeJob`` per job (a count to keep, or failed jobs of one kind);
- lists (:mod:`.ops_list`), redrive (:mod:`.redrive`) and workers (:mod:`.registry`).

Semantics of each method: ``base.Backend``.
"""

from __future__ import annotations

import time
from typing import Any, Protocol, cast

from redis.asyncio import Redis

from qgen.runtime.backends.base import ErrorInfo, JobInfo, JobStatus
from qgen.runtime.backends.ops import QueueCounts, RedriveReport, Validate, WorkerInfo
from qgen.runtime.backends.redis import ops_list, ops_lua, redrive  # noqa: F401  (scripts)
from qgen.runtime.backends.redis.jobs import Catalog, dumps
from qgen.runtime.backends.redis.keys import QueueKeys
from qgen.runtime.backends.redis.registry import Registry
from qgen.runtime.backends.redis.scripts import SCRIPTS, Call
from qgen.runtime.backends.redis.transport import ScriptError, Scripts
from qgen.runtime.backends.redis.url import RedisTarget
from qgen.runtime.backends.unsupported import UnsupportedOps
from qgen.runtime.errors import ConfigError
from qgen.runtime.settings import SettingsBook

WAITING_TYPES = ("wait", "paused", "prioritized", "waiting-children")
COUNTED_TYPES = (*WAITING_TYPES, "delayed", "active", "completed", "failed")
BEFORE_IT_RAN = "cancelled before it ran"
ASKED = "cancelled by an operator"
EVER = 2**53 - 1  # ms: "any age" for cleanJobsInSet
RETRY_CHUNK = 100  # jobs retried per transaction


def now_ms() -> int:
    return int(time.time() * 1000)


class _WithClient(Protocol):
    client: Redis


class RedisOps(UnsupportedOps):
    catalog: Catalog
    settings: SettingsBook
    scripts: Scripts
    target: RedisTarget
    _registry: Registry | None = None

    @property
    def redis(self) -> Redis:
        """The backend's pooled client (whether the backend keeps it as an attribute or as a
        property)."""
        return cast(_WithClient, self).client

    @property
    def registry(self) -> Registry:
        """This process's worker registry connections, made at its first beat."""
        if self._registry is None:
            self._registry = Registry(self.target.prefix, self._server_url)
        return self._registry

    def _server_url(self) -> str:
        """Where the registry's connections go: the server of the backend's pool (when the
        backend shares a process pool, its server: on a Redis Cluster, the node serving the
        prefix's slot, where Node's workers' blocking connections go too)."""
        shared = getattr(self, "shared", None)
        return str(shared.url) if shared is not None else self.target.client_url

    # -- reading -----------------------------------------------------------------------------

    async def counts(self, queue: str) -> QueueCounts:
        k = self.catalog.keys(queue)
        marked = [k.failed, k.marked("discarded"), k.marked("cancelled")]
        calls: list[Call] = [
            ("getCounts", [k.base], list(COUNTED_TYPES)),
            ("qgenSubsets", marked, []),
        ]
        counted, subsets = await self._all(calls)
        by_type = dict(zip(COUNTED_TYPES, (int(n) for n in counted), strict=True))
        discarded, cancelled = (int(n) for n in subsets)
        return QueueCounts(
            waiting=sum(by_type[t] for t in WAITING_TYPES),
            delayed=by_type["delayed"],
            active=by_type["active"],
            completed=by_type["completed"],
            failed=max(0, by_type["failed"] - discarded - cancelled),
            discarded=discarded,
            cancelled=cancelled,
            paused=await self.is_paused(queue),
        )

    async def list_jobs(
        self, queue: str, status: JobStatus, limit: int, cursor: str | None
    ) -> tuple[list[JobInfo], str | None]:
        return await ops_list.page(self, queue, status, limit, cursor)

    # -- acting on jobs ----------------------------------------------------------------------

    async def cancel(self, queue: str, job_id: str) -> bool:
        k = self.catalog.keys(queue)
        keys = [k.wait, k.paused, k.prioritized, k.delayed, k.active, k.failed]
        keys += [k.job(job_id), k.marked("cancelled"), k.events, k.meta, k.cancel_requests]
        error = dumps(ErrorInfo("Cancelled", BEFORE_IT_RAN).to_json())
        args = [job_id, now_ms(), f"Cancelled: {BEFORE_IT_RAN}", error, ASKED]
        done = await self.scripts.call("qgenCancel", keys, args)
        return done in (1, 2)  # 1: it will never start; 2: its worker is asked to stop it

    async def retry(self, queue: str, job_id: str) -> bool:
        return await self._retry(self.catalog.keys(queue), [job_id]) == 1

    async def retry_all(self, queue: str, limit: int | None) -> int:
        k = self.catalog.keys(queue)
        ids = await ops_list.failed_oldest_first(self.redis, k)
        if limit is not None:
            ids = ids[:limit]
        moved = 0
        for start in range(0, len(ids), RETRY_CHUNK):
            moved += await self._retry(k, ids[start : start + RETRY_CHUNK])
        return moved

    async def _retry(self, k: QueueKeys, ids: list[str]) -> int:
        """Failed jobs (discarded and cancelled ones too) back to waiting with fresh attempts,
        each atomically: qgen's fields cleared only if BullMQ's reprocessJob moves it."""
        calls: list[Call] = []
        for job_id in ids:
            job = k.job(job_id)
            marked = [k.failed, job, k.marked("discarded"), k.marked("cancelled")]
            calls.append(("qgenUnmark", marked, [job_id]))
            keys = [job, k.events, k.failed, k.wait, k.meta, k.active, k.marker]
            keys += [k.prioritized, k.pc]
            calls.append(("reprocessJob", keys, [job_id, "LPUSH", "failedReason", "failed", 1, 1]))
        replies = await self.atomic(calls)
        return sum(1 for reply in replies[1::2] if reply == 1)

    # -- acting on queues --------------------------------------------------------------------

    async def pause(self, queue: str) -> None:
        k = self.catalog.keys(queue)
        keys = [k.wait, k.paused, k.meta, k.prioritized, k.events, k.delayed, k.marker]
        await self.scripts.call("pause", keys, ["paused", "1"])

    async def resume(self, queue: str) -> None:
        k = self.catalog.keys(queue)
        keys = [k.paused, k.wait, k.meta, k.prioritized, k.events, k.delayed, k.marker]
        await self.scripts.call("pause", keys, ["resumed", "1"])

    async def is_paused(self, queue: str) -> bool:
        return bool(await self.redis.hexists(self.catalog.keys(queue).meta, "paused"))

    async def clean(
        self, queue: str, status: JobStatus, older_than: float | None, keep: int | None
    ) -> int:
        if not status.finished:
            raise ConfigError(f"clean takes a finished status, not {status.value!r}")
        k = self.catalog.keys(queue)
        cutoff = EVER if older_than is None else now_ms() - int(older_than * 1000)
        if status is JobStatus.COMPLETED and not keep:
            keys = [k.completed, k.events, k.repeat]
            removed = await self.scripts.call(
                "cleanJobsInSet", keys, [k.base, cutoff, 0, "completed"]
            )
            return len(removed or ())
        finished = await ops_list.finished_newest_first(self.redis, k, status)
        doomed = [job_id for job_id, at in finished[keep or 0 :] if at <= cutoff]
        removed_n = 0
        for start in range(0, len(doomed), 500):
            chunk = doomed[start : start + 500]
            calls: list[Call] = [("removeJob", [k.job(i), k.repeat], [i, 1, k.base]) for i in chunk]
            removed_n += sum(1 for reply in await self._all(calls) if reply == 1)
        return removed_n

    async def redrive(
        self,
        dead_letter_queue: str,
        target_queue: str,
        limit: int | None,
        validate: Validate,
        dry_run: bool,
    ) -> RedriveReport:
        return await redrive.redrive(
            self, dead_letter_queue, target_queue, limit, validate, dry_run
        )

    # -- workers -----------------------------------------------------------------------------

    async def heartbeat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        await self.registry.beat(self.redis, worker, stopping=stopping)

    async def workers(self, queue: str | None) -> list[WorkerInfo]:
        return await self.registry.workers(self.redis, queue)

    # -- calls -------------------------------------------------------------------------------

    async def _all(self, calls: list[Call]) -> list[Any]:
        """Script calls in one pipeline; a failed one raises."""
        replies = await self.scripts.pipeline(calls)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def atomic(self, calls: list[Call]) -> list[Any]:
        """Script calls in one MULTI/EXEC, sent as EVAL with their source: a transaction cannot
        reload a script that Redis lost halfway, so it never depends on one being loaded."""
        pipe = self.redis.pipeline(transaction=True)
        for name, keys, args in calls:
            assert isinstance(keys, list)
            pipe.execute_command("EVAL", SCRIPTS[name].source, len(keys), *keys, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=True)
        for (name, _, _), reply in zip(calls, replies, strict=True):
            if isinstance(reply, int) and reply < 0 and name != "reprocessJob":
                raise ScriptError(name, reply)
        return replies

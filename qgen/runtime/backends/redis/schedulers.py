"""Schedules on Redis as BullMQ job schedulers: the records Node BullMQ's ``upsertJobScheduler``
writes (``<prefix>:<queue>:repeat`` sorted set, ``<prefix>:<queue>:repeat:<id>`` hashes, the
next iteration as the delayed job ``repeat:<id>:<ms>``), through the pinned ``bullmq`` package's
own ``JobScheduler`` and Lua scripts. Node BullMQ and Bull Board see them.

Who makes the next iteration: Node BullMQ's worker does it when it fetches an iteration; qgen
workers do it on the clock (:meth:`advance`), for every scheduler of the queues they serve, a
Node-made one too. The step is BullMQ's ``updateJobScheduler`` with the current iteration as the
producer id: the first caller advances, every other (qgen or Node) finds the id stale and adds
nothing, so each iteration is one job however many workers run.

qgen's own schedulers carry ``{"qgen": "schedule"}`` in their template options: at start-up a
worker removes those whose name is no longer in the build (logged) and never touches the others.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis

from qgen.runtime.schedules import Schedule, next_tick

log = logging.getLogger("qgen.schedules")
T = TypeVar("T")
MARKER = {"qgen": "schedule"}
OVERDUE_MS = 1000  # an iteration older than this at start-up was missed while no worker ran
RETRY_STUCK_MS = 1000  # an iteration that did not advance is tried again after this


class BullJobSchedulers:
    def __init__(
        self, client: Callable[[], Redis], server_url: Callable[[], str], prefix: str
    ) -> None:
        # The backend's shared pool reads the records; bullmq's Queue (its own connection)
        # writes them. Both are asked for each time: on Redis Cluster the pool moves when the
        # prefix's slot does (backends/redis/pool.py), and the Queues are opened again then.
        self._client = client
        self._server_url = server_url
        self.prefix = prefix
        self._queues: dict[str, Any] = {}
        self._tried: dict[tuple[str, str], tuple[int, int]] = {}  # (queue, id) -> (iteration, at)

    def job_id(self, schedule: Schedule, tick: int) -> str:
        return f"repeat:{schedule.name}:{tick}"

    def _queue(self, name: str) -> Any:
        if name not in self._queues:
            from bullmq import Queue  # type: ignore[import-untyped]

            opts = {"connection": self._server_url(), "prefix": self.prefix}
            self._queues[name] = Queue(name, opts)
        return self._queues[name]

    def _scheduler(self, queue: str, schedule: Schedule | None) -> Any:
        """bullmq's JobScheduler; for a qgen schedule, with qgen's tick arithmetic (zones and
        daylight saving as docs/schedules.md says), else bullmq's (cron-parser's) own."""
        from bullmq.job_scheduler import JobScheduler  # type: ignore[import-untyped]

        q = self._queue(queue)
        if schedule is None or schedule.cron is None:
            return JobScheduler(q)
        return JobScheduler(q, repeat_strategy=lambda millis, _opts: next_tick(schedule, millis))

    async def records(self, queue: str) -> list[dict[str, Any]]:
        return (await self.records_of([queue]))[queue]

    async def records_of(self, queues: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every scheduler of ``queues`` as bullmq lists them (``getJobSchedulers``), read in
        two pipelined round trips however many queues (an idle worker reads them each second)."""
        from bullmq.job_scheduler import _transform_scheduler_data

        client = self._client()
        pipe = client.pipeline(transaction=False)
        for queue in queues:
            pipe.zrange(f"{self.prefix}:{queue}:repeat", 0, -1, withscores=True)
        members: list[list[tuple[str, float]]] = await pipe.execute()
        found: list[tuple[str, str, int]] = []
        pipe = client.pipeline(transaction=False)
        for queue, pairs in zip(queues, members, strict=True):
            for key, score in pairs:
                found.append((queue, key, int(score)))
                pipe.hgetall(f"{self.prefix}:{queue}:repeat:{key}")
        hashes: list[dict[str, str]] = await pipe.execute() if found else []
        out: dict[str, list[dict[str, Any]]] = {q: [] for q in queues}
        for (queue, key, score), fields in zip(found, hashes, strict=True):
            rec = _transform_scheduler_data(key, fields, score) if fields else None
            if rec is not None:
                out[queue].append(rec)
        return out

    async def _dropping(self, step: Awaitable[T]) -> T:
        """Run ``step``; on a failure, close the bullmq Queues so the next try opens them
        again (at the server the pool uses now)."""
        try:
            return await step
        except Exception:
            await self.close()
            raise

    async def sync(
        self,
        schedules: Sequence[Schedule],
        known: Mapping[str, str],
        queues: Sequence[str],
        now: int,
    ) -> None:
        await self._dropping(self._sync(schedules, known, queues, now))

    async def _sync(
        self,
        schedules: Sequence[Schedule],
        known: Mapping[str, str],
        queues: Sequence[str],
        now: int,
    ) -> None:
        """Start-up: remove qgen schedulers no longer in the build (``known``: every schedule
        of the build and its queue), create or update the served ones, and skip a missed
        iteration of a ``catch_up=False`` schedule."""
        existing: dict[str, dict[str, Any]] = {}
        for queue, recs in (await self.records_of(queues)).items():
            for rec in recs:
                key = str(rec.get("key"))
                existing[key] = rec
                template = rec.get("template") or {}
                mine = (template.get("opts") or {}).get("qgen") == MARKER["qgen"]
                if not mine or known.get(key) == queue:
                    continue
                await self._queue(queue).removeJobScheduler(key)
                log.info("schedule %s removed from queue %s: no longer in the build", key, queue)
        for s in schedules:
            await self._upsert(s, existing.get(s.name), now)

    def _repeat(self, s: Schedule, now: int) -> dict[str, Any]:
        if s.cron is not None:
            return {"pattern": s.cron, "tz": s.tz}
        # offset = the interval: BullMQ's Lua puts the first iteration at the next multiple of
        # the interval after Redis's own now (a start date computed here could be past already)
        return {"every": s.every_ms, "offset": s.every_ms}

    async def _upsert(self, s: Schedule, rec: dict[str, Any] | None, now: int) -> None:
        q = self._queue(s.queue)
        same = rec is not None and _same(rec, s)
        overdue = rec is not None and int(rec.get("next") or 0) < now - OVERDUE_MS
        if same and not (overdue and not s.catch_up):
            return
        if overdue and not s.catch_up:  # skip the missed iteration: start over at the next tick
            await q.removeJobScheduler(s.name)
            log.info("schedule %s: missed tick skipped (catch_up=False)", s.name)
        repeat = self._repeat(s, now)
        await self._scheduler(s.queue, s).upsertJobScheduler(
            s.name, repeat, s.queue, s.data, dict(MARKER), override=True
        )
        log.info("schedule %s stored as a BullMQ job scheduler of queue %s", s.name, s.queue)

    async def advance(
        self, schedules: Sequence[Schedule], queues: Sequence[str], now: int
    ) -> int | None:
        return await self._dropping(self._advance_due(schedules, queues, now))

    async def _advance_due(
        self, schedules: Sequence[Schedule], queues: Sequence[str], now: int
    ) -> int | None:
        """Make the next iteration of every due scheduler of ``queues``; return the soonest
        iteration still to come (``now`` after advancing one: read again; None: no scheduler)."""
        mine = {s.name: s for s in schedules}
        soonest: int | None = None
        for queue, recs in (await self.records_of(queues)).items():
            for rec in recs:
                current = int(rec.get("next") or 0)
                if current <= now:
                    slot = (queue, str(rec.get("key")))
                    tried = self._tried.get(slot)
                    if tried and tried[0] == current and now < tried[1] + RETRY_STUCK_MS:
                        # advanced before and still current (BullMQ found the next iteration's
                        # job taken): try again in a second, not in a busy loop
                        current = tried[1] + RETRY_STUCK_MS
                    else:
                        self._tried[slot] = (current, now)
                        await self._advance(queue, rec, current, mine.get(slot[1]))
                        current = now  # read its next iteration again at once
                soonest = current if soonest is None else min(soonest, current)
        return soonest

    async def _advance(
        self, queue: str, rec: dict[str, Any], current: int, schedule: Schedule | None
    ) -> None:
        key = str(rec["key"])
        template = rec.get("template") or {}
        repeat: dict[str, Any] = {}
        for field in ("pattern", "every", "tz"):
            if rec.get(field) is not None:
                repeat[field] = rec[field]
        opts = {**(template.get("opts") or {}), "prevMillis": current}
        await self._scheduler(queue, schedule).upsertJobScheduler(
            key,
            repeat,
            rec.get("name"),
            template.get("data"),
            opts,
            override=False,
            producer_id=f"repeat:{key}:{current}",
        )

    async def close(self) -> None:
        for q in self._queues.values():
            await q.close()
        self._queues.clear()


def _same(rec: dict[str, Any], s: Schedule) -> bool:
    template = rec.get("template") or {}
    if template.get("data") != s.data or rec.get("name") != s.queue:
        return False
    if s.cron is not None:
        return bool(rec.get("pattern") == s.cron and rec.get("tz") == s.tz)
    return bool(rec.get("every") == s.every_ms and rec.get("pattern") is None)

"""BullMQ's worker registry on Redis: named connections that ``CLIENT LIST`` shows (issue 14).

A Node BullMQ worker names its blocking connection ``<prefix>:<base64(queue)>`` or, with a
worker name, ``<prefix>:<base64(queue)>:w:<name>``; Node's ``queue.getWorkers()`` lists the
connections whose names match (the Python ``bullmq`` package names them ``<prefix>:<queue>...``
without base64; both forms are read here). A qgen worker process keeps, while it runs, one idle
connection per queue it serves, named in Node's form, so Node's ``getWorkers()`` and Bull Board
list it, with what qgen's own listing needs after the worker name:
``<prefix>:<base64(queue)>:w:<name>~qgen~<base64url(JSON of name, host, pid, start)>``. Each
beat (every ``ops.WORKER_BEAT`` s) pings those connections, so their ``idle`` time is the age of
the last beat; a clean stop closes them, and a dead process's connections are closed by Redis.

Listed: qgen workers whose last beat is at most ``ops.WORKER_LISTED_FOR`` s old (one entry per
process, every queue it serves), and every other named worker connection while it is open (a
Node worker busy with a long job does not touch its blocking connection, so its idle time says
nothing): name from after ``:w:`` (else ``bullmq@<addr>``), host from its address, pid 0,
started when the connection opened, last seen now.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from qgen.runtime.backends.ops import WORKER_LISTED_FOR, WorkerInfo
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT
from qgen.runtime.errors import UnsupportedByBackend
from qgen.runtime.names import QUEUE_NAME_PATTERN

QGEN_MARK = "~qgen~"
_QUEUE_RE = re.compile(QUEUE_NAME_PATTERN)
_SHOWN_RE = re.compile(r"[^A-Za-z0-9_.@-]")


def queue_part(queue: str) -> str:
    """A queue's part of a client name, as Node BullMQ writes it."""
    return base64.b64encode(queue.encode()).decode()


def client_name(prefix: str, queue: str, worker: WorkerInfo) -> str:
    record = {"n": worker.name, "h": worker.host, "p": worker.pid, "s": worker.started_at}
    packed = base64.urlsafe_b64encode(json.dumps(record, separators=(",", ":")).encode())
    shown = _SHOWN_RE.sub("_", worker.name)[:64]
    return f"{prefix}:{queue_part(queue)}:w:{shown}{QGEN_MARK}{packed.decode().rstrip('=')}"


class Registry:
    """This process's named connections (one per queue it serves) while it beats.
    ``server_url``: where they go, asked at each new connection (the server; on a Redis
    Cluster the node serving the prefix's slot, where Node's workers' blocking connections
    go too)."""

    def __init__(self, prefix: str, server_url: Callable[[], str]) -> None:
        self.prefix = prefix
        self.server_url = server_url
        self._conns: dict[str, Redis] = {}

    async def beat(self, worker: WorkerInfo, *, stopping: bool = False) -> None:
        if stopping:
            await self.close()
            return
        for queue in worker.queues:
            conn = self._conns.get(queue)
            if conn is None:
                name = client_name(self.prefix, queue, worker)
                conn = self._conns[queue] = Redis.from_url(
                    self.server_url(),
                    decode_responses=True,
                    single_connection_client=True,
                    client_name=name,  # set again by redis-py on every reconnect
                    socket_timeout=COMMAND_TIMEOUT,
                )
            await conn.ping()

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.client_setname("")  # unlisted before the socket is even closed
            with contextlib.suppress(Exception):
                await conn.aclose()

    async def workers(self, client: Redis, queue: str | None) -> list[WorkerInfo]:
        try:
            entries: list[dict[str, Any]] = await client.client_list()
        except ResponseError as exc:  # managed servers may refuse it (ACL, renamed commands)
            reason = f"this server refuses CLIENT LIST, BullMQ's worker registry: {exc}"
            raise UnsupportedByBackend("redis", "listing workers", reason) from None
        now = time.time()
        qgen: dict[tuple[str, int, float], WorkerInfo] = {}
        wanted: set[tuple[str, int, float]] = set()  # qgen processes serving ``queue``
        others: list[WorkerInfo] = []
        for entry in entries:
            name = str(entry.get("name") or "")
            found = _parse(self.prefix, name, None)
            if found is None:
                continue
            served, shown, record = found
            hit = queue is None or _parse(self.prefix, name, queue) is not None
            idle, age = float(entry.get("idle", 0)), float(entry.get("age", 0))
            if record is None:
                if hit:
                    host = str(entry.get("addr", "?")).rpartition(":")[0] or "?"
                    shown = shown or f"bullmq@{entry.get('addr', '?')}"
                    others.append(WorkerInfo(shown, host, 0, (served,), now - age, now, "redis"))
                continue
            if idle > WORKER_LISTED_FOR:
                continue
            key = (str(record["h"]), int(record["p"]), float(record["s"]))
            old = qgen.get(key)
            queues = (served,) if old is None else (*old.queues, served)
            seen = now - idle if old is None else max(now - idle, old.last_seen)
            qgen[key] = WorkerInfo(
                str(record["n"]), key[0], key[1], tuple(sorted(queues)), key[2], seen, "redis"
            )
            if hit:
                wanted.add(key)
        listed = [info for key, info in qgen.items() if key in wanted] + others
        return sorted(listed, key=lambda w: (w.name, w.host, w.pid))


def _parse(
    prefix: str, name: str, wanted: str | None
) -> tuple[str, str, dict[str, Any] | None] | None:
    """(queue, worker name, qgen record or None) of a worker connection's name, else None."""
    head = prefix + ":"
    if not name.startswith(head):
        return None
    part, sep, shown = name[len(head) :].partition(":w:")
    queue = _queue_of(part, wanted)
    if queue is None:
        return None
    if not sep:
        return queue, "", None
    shown, mark, packed = shown.partition(QGEN_MARK)
    if not mark:
        return queue, shown, None
    try:
        raw = base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4))
        record = json.loads(raw)
        if not isinstance(record, dict) or not {"n", "h", "p", "s"} <= set(record):
            return None
        int(record["p"]), float(record["s"])
    except (ValueError, TypeError, binascii.Error):
        return None
    return queue, shown, record


def _queue_of(part: str, wanted: str | None) -> str | None:
    """The queue a name's part stands for: Node's base64 form, or the plain name."""
    if wanted is not None:
        return wanted if part in (queue_part(wanted), wanted) else None
    try:
        decoded = base64.b64decode(part, validate=True).decode()
        if _QUEUE_RE.fullmatch(decoded):
            return decoded
    except (ValueError, binascii.Error):
        pass
    return part if _QUEUE_RE.fullmatch(part) else None

"""Worker presence on Redis (issue 14): BullMQ's registry of named connections, and qgen's record.

BullMQ's registry is ``CLIENT LIST``: a Node BullMQ worker names its blocking connection
``<prefix>:<base64(queue)>`` or, with a worker name, ``<prefix>:<base64(queue)>:w:<name>``, and
Node's ``queue.getWorkers()`` (and Bull Board) list the connections so named (the Python
``bullmq`` package writes the queue name without base64; both forms are read here).

A qgen worker process, while it runs:

- beats into one hash per prefix, ``<prefix>:qgen#workers`` (field: the process's key, value:
  its :class:`WorkerInfo` as JSON; no queue name holds ``#``, so no BullMQ key can take this
  name), every ``ops.WORKER_BEAT`` s; a clean stop deletes its field, and fields older than
  ``ops.WORKER_LISTED_FOR`` s are dropped when the workers are listed. qgen lists its own
  workers from there: one entry per process, with every queue it serves.
- keeps one idle connection per queue it serves, for at most :data:`NAMED_MAX` queues, named as
  Node names a worker's (``...:w:<name>~qgen``), so Node's ``getWorkers()`` lists it. BullMQ's
  registry costs a connection per queue; the cap keeps a process with hundreds of queues within
  its connection bound (docs/decisions.md), and its other queues are listed by qgen only.

Other named worker connections (Node's, the Python ``bullmq`` package's) are listed while they
are open: name from after ``:w:`` (else ``bullmq@<addr>``), host from the address, pid 0,
started when the connection opened, last seen now (a busy Node worker does not touch its
blocking connection, so its idle time says nothing).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from qgen.runtime.backends.ops import WORKER_LISTED_FOR, WorkerInfo
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT
from qgen.runtime.names import QUEUE_NAME_PATTERN

log = logging.getLogger("qgen.redis")

NAMED_MAX = 16  # queues per process with a named connection that Node's getWorkers() sees
QGEN_MARK = "~qgen"  # ends the names of qgen's own registry connections
_QUEUE_RE = re.compile(QUEUE_NAME_PATTERN)
_SHOWN_RE = re.compile(r"[^A-Za-z0-9_.@-]")


def queue_part(queue: str) -> str:
    """A queue's part of a client name, as Node BullMQ writes it."""
    return base64.b64encode(queue.encode()).decode()


def client_name(prefix: str, queue: str, worker: WorkerInfo) -> str:
    shown = _SHOWN_RE.sub("_", worker.name)[:64]
    return f"{prefix}:{queue_part(queue)}:w:{shown}{QGEN_MARK}"


class Registry:
    """This process's record and named connections. ``server_url``: where the connections
    go, asked at each new one (the server; on a Redis Cluster the node serving the prefix's
    slot, where Node's workers' blocking connections go too)."""

    def __init__(self, prefix: str, server_url: Callable[[], str]) -> None:
        self.prefix = prefix
        self.key = f"{prefix}:qgen#workers"
        self.server_url = server_url
        self._conns: dict[str, Redis] = {}

    async def beat(self, client: Redis, worker: WorkerInfo, *, stopping: bool = False) -> None:
        if stopping:
            try:
                await client.hdel(self.key, worker.key)
            finally:
                await self.close()
            return
        await client.hset(self.key, worker.key, json.dumps(worker.to_json()))
        for queue in worker.queues[:NAMED_MAX]:
            try:
                await self._named(queue, worker).ping()
            except Exception as exc:  # Node's view only; qgen's record is written
                log.warning("could not register with BullMQ's worker registry: %s", exc)
                return

    def _named(self, queue: str, worker: WorkerInfo) -> Redis:
        conn = self._conns.get(queue)
        if conn is None:
            conn = self._conns[queue] = Redis.from_url(
                self.server_url(),
                decode_responses=True,
                single_connection_client=True,
                client_name=client_name(self.prefix, queue, worker),  # kept on reconnects
                socket_timeout=COMMAND_TIMEOUT,
            )
        return conn

    async def close(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(Exception):
                await conn.client_setname("")  # unlisted before the socket is even closed
            with contextlib.suppress(Exception):
                await conn.aclose()

    async def workers(self, client: Redis, queue: str | None) -> list[WorkerInfo]:
        listed = await self._qgen(client, queue) + await self._others(client, queue)
        return sorted(listed, key=lambda w: (w.name, w.host, w.pid))

    async def _qgen(self, client: Redis, queue: str | None) -> list[WorkerInfo]:
        records: dict[Any, Any] = await client.hgetall(self.key)
        now = time.time()
        out: list[WorkerInfo] = []
        stale: list[str] = []
        for key, text in records.items():
            try:
                info = WorkerInfo.from_json(json.loads(str(text)))
            except ValueError:
                stale.append(key)
                continue
            if now - info.last_seen > WORKER_LISTED_FOR:
                stale.append(key)
            elif queue is None or queue in info.queues:
                out.append(info)
        if stale:
            await client.hdel(self.key, *stale)
        return out

    async def _others(self, client: Redis, queue: str | None) -> list[WorkerInfo]:
        """Worker connections named by Node BullMQ (or the Python bullmq package)."""
        try:
            entries: list[dict[str, Any]] = await client.client_list()
        except ResponseError as exc:  # managed servers may refuse it (ACL, renamed command)
            log.warning("CLIENT LIST refused: only qgen's workers are listed (%s)", exc)
            return []
        now = time.time()
        out: list[WorkerInfo] = []
        for entry in entries:
            found = _parse(self.prefix, str(entry.get("name") or ""), queue)
            if found is None:
                continue
            served, shown = found
            addr = str(entry.get("addr", "?"))
            host = addr.rpartition(":")[0] or "?"
            started = now - float(entry.get("age", 0))
            name = shown or f"bullmq@{addr}"
            out.append(WorkerInfo(name, host, 0, (served,), started, now, "redis"))
        return out


def _parse(prefix: str, name: str, wanted: str | None) -> tuple[str, str] | None:
    """(queue, worker name) of another worker's connection name, else None (qgen's own, a
    queue's event reader, anything else)."""
    head = prefix + ":"
    if not name.startswith(head) or name.endswith(QGEN_MARK):
        return None
    part, sep, shown = name[len(head) :].partition(":w:")
    queue = _queue_of(part, wanted)
    if queue is None:
        return None
    return queue, shown if sep else ""


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

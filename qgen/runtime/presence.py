"""A worker process's heartbeat (issue 14): registered at start-up, a beat every
``ops.WORKER_BEAT`` seconds, removed at a clean stop, so ``client.workers()`` and
``qgen workers`` list the processes serving each queue, and a ``result()`` that times out can
say whether any worker was seen on that queue at that URL."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence

from qgen.runtime.backends.base import Backend
from qgen.runtime.backends.ops import WORKER_BEAT, WorkerInfo
from qgen.runtime.cancel import cancel_safe
from qgen.runtime.capabilities import Feature, supports
from qgen.runtime.settings import QueueSettings

log = logging.getLogger("qgen.worker")


def worker_info(backend: str, settings: Sequence[QueueSettings]) -> WorkerInfo:
    """This process as a worker of ``settings``' queues. Its name: the first queue's ``name``
    config that is set, else ``<host>:<pid>``."""
    host, pid = socket.gethostname(), os.getpid()
    name = next((s.worker_name for s in settings if s.worker_name), None) or f"{host}:{pid}"
    now = time.time()
    queues = tuple(sorted(s.name for s in settings))
    return WorkerInfo(name, host, pid, queues, now, now, backend)


class Presence:
    """Beats for one worker process while :meth:`run` runs; nothing where the backend keeps
    no worker registry (the capability table's ``workers`` row)."""

    def __init__(self, backend: Backend, name: str, settings: Sequence[QueueSettings]) -> None:
        self.backend = backend
        # A backend class without heartbeat() yet (the operator API lands backend by backend)
        # keeps no registry: nothing to beat, and nothing to warn about on every start.
        self.enabled = supports(Feature.WORKERS, name) and hasattr(backend, "heartbeat")
        self.info = worker_info(name, settings)

    def _now(self) -> WorkerInfo:
        info = self.info
        return WorkerInfo(
            info.name, info.host, info.pid, info.queues, info.started_at, time.time(), info.backend
        )

    async def run(self) -> None:
        """Beat until cancelled; a failed beat is logged and tried again at the next one."""
        if not self.enabled:
            return
        failed = False
        while True:
            try:
                # cancel_safe: the Redis registry swallowed redis-py's TimeoutError of a
                # cancelled connect, and a worker stopped during start-up waited 60 s for this.
                await cancel_safe(self.backend.heartbeat(self._now()))
                failed = False
            except Exception as exc:
                if not failed:  # once per outage
                    log.warning("worker heartbeat failed: %s", exc)
                failed = True
            await asyncio.sleep(WORKER_BEAT)

    async def leave(self) -> None:
        """At a clean stop: no longer listed (best effort; else it ages out)."""
        if not self.enabled:
            return
        try:
            await asyncio.wait_for(self.backend.heartbeat(self._now(), stopping=True), 5.0)
        except Exception as exc:
            log.warning("could not unregister the worker: %s", exc)

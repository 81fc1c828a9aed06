"""The connections a process shares: one :class:`Shared` per event loop and URL.

Every backend (client) and consumer (worker) opened on one event loop for the same URL uses
the same :class:`Shared`, reference counted: a pool of at most ``max_connections`` (default 8)
for every non-blocking call, the :class:`Scripts` sender over it, and one event reader (one
more connection, once something waits for a result or a consumer follows its queues' cancel
requests). A consumer adds its one marker-wait connection. So a worker process holds at most
``max_connections + 2`` connections, whatever its number of queues. A redis-py connection
belongs to its event loop, so the sharing is per loop: each blocking client (which runs its
own private loop) keeps its own.

Redis Cluster: a hash-tagged prefix puts every key of every queue in one slot, so the shared
connections all go to the master that serves that slot, found through redis-py's cluster
client at start-up; the scripts then run there unchanged, as on one server. When a failover
or resharding moves that slot (a ``MOVED`` answer), or its master stops answering (a failover
promotes its replica), :meth:`Shared.relocate` asks the cluster again and moves the pool (and
then the blocking readers) to the new master.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from qgen.runtime.backends.redis.events import EventReader
from qgen.runtime.backends.redis.transport import COMMAND_TIMEOUT, Scripts, new_client
from qgen.runtime.backends.redis.url import RedisTarget
from qgen.runtime.errors import BackendUnavailable
from qgen.runtime.urls import mask_url, redact

log = logging.getLogger("qgen.redis")


class Shared:
    def __init__(self, target: RedisTarget, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.target = target
        self.url = url  # the server, or the cluster node serving the prefix's slot
        self.loop = loop  # held, so the registry's key (its id) is never reused meanwhile
        self.client = new_client(target, url)
        self.scripts = Scripts(self.client, target.max_connections - 1)  # one left for redis-py
        self.scripts.relocate = self.relocate
        self.events = EventReader(self, target.prefix)
        self.refs = 0
        self._relocating = asyncio.Lock()
        self._relocated = 0.0
        self._retired: list[Redis] = []

    def blocking_client(self, role: str) -> Redis:
        """A dedicated connection for a blocking reader (not counted in the pool)."""
        return new_client(self.target, self.url, role=role)

    async def relocate(self) -> None:
        """A cluster answered ``MOVED``, or its master did not answer: find the prefix's
        master again (at most once a second) and send there."""
        if not self.target.cluster:
            return
        async with self._relocating:
            if time.monotonic() - self._relocated < 1.0:  # another caller just did
                return
            try:
                url = await slot_owner(self.target)
            except Exception as exc:  # the callers retry, and ask again
                log.warning("Redis Cluster: could not find the slot's master: %s", exc)
                return
            finally:
                self._relocated = time.monotonic()
            if url == self.url:
                return
            log.warning(
                "Redis Cluster: the slot of %s moved; now using %s",
                self.target.prefix,
                mask_url(url),
            )
            old, self.url = self.client, url
            self.client = new_client(self.target, url)
            await self.scripts.rebind(self.client)
            self._retired.append(old)  # calls still in flight there fail over by themselves

    async def _close(self) -> None:
        await self.events.close()
        await self.scripts.close()
        for client in [self.client, *self._retired]:
            with contextlib.suppress(Exception):
                await client.aclose()


_SHARED: dict[tuple[int, RedisTarget], Shared] = {}
_OPENING: dict[tuple[int, RedisTarget], asyncio.Future[str]] = {}


async def acquire(target: RedisTarget) -> Shared:
    """The shared connections of this event loop for ``target`` (released with
    :func:`release`)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), target)
    shared = _SHARED.get(key)
    if shared is None or shared.loop is not loop:
        url = await _server_url(target, key)
        shared = _SHARED.get(key)
        if shared is None or shared.loop is not loop:
            shared = _SHARED[key] = Shared(target, url, loop)
    shared.refs += 1
    return shared


async def release(shared: Shared) -> None:
    shared.refs -= 1
    if shared.refs > 0:
        return
    key = (id(shared.loop), shared.target)
    if _SHARED.get(key) is shared:
        del _SHARED[key]
    await shared._close()


async def _server_url(target: RedisTarget, key: tuple[int, RedisTarget]) -> str:
    if not target.cluster:
        return target.client_url
    opening = _OPENING.get(key)  # one discovery for concurrent first users
    if opening is None:
        opening = _OPENING[key] = asyncio.ensure_future(slot_owner(target))
        opening.add_done_callback(lambda _: _OPENING.pop(key, None))
    return await asyncio.shield(opening)


async def slot_owner(target: RedisTarget) -> str:
    """The URL of the cluster master serving the slot of ``target``'s prefix, asked of each
    node given in turn."""
    errors: list[str] = []
    for host, port in target.nodes:
        node_url = target.node_url(host, port)
        cluster = RedisCluster.from_url(node_url, socket_timeout=COMMAND_TIMEOUT)
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                await cluster.initialize()
            node = cluster.get_node_from_key(target.prefix)
            if node is None:
                raise RedisError(f"no master serves the slot of {target.prefix!r}")
            log.info("Redis Cluster: prefix %s lives on %s:%s", target.prefix, node.host, node.port)
            return target.node_url(node.host, int(node.port))
        except Exception as exc:  # redis-py's cluster errors are not all RedisErrors
            errors.append(f"{host}:{port}: {redact(str(exc) or type(exc).__name__, node_url)}")
        finally:
            with contextlib.suppress(Exception):
                await cluster.aclose()
    raise BackendUnavailable(
        "redis", repr(mask_url(target.client_url)), "no cluster node answered: " + "; ".join(errors)
    )

"""Redis Cluster failover (issue 13, item 6): the master serving the prefix's slot dies, its
replica takes over, and the running worker and client follow it: every job added before and
after completes. A local cluster of three masters with one replica each."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import test_redis_reliability as rel
from redis.crc import key_slot
from support import redis_cluster

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.redis import RedisBackend
from qgen.runtime.errors import QgenError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with redis_cluster.running_cluster(replicas=1) as url:
        yield url


@pytest.fixture
def cluster_url(cluster: str) -> Iterator[str]:
    with redis_cluster.backend_url(cluster) as url:
        yield url


@pytest.fixture
async def backend(cluster_url: str) -> AsyncIterator[RedisBackend]:
    configs = {q: dict(m.config) for q, m in rel.redis_app.queue_metas().items()}  # type: ignore[attr-defined]
    b = await RedisBackend.connect(cluster_url, configs)
    yield b
    await b.close()


def _owner(cluster_url: str, slot: int, dead: str) -> str | None:
    """The master serving ``slot`` as a surviving node sees it (host:port)."""
    for addr in cluster_url.split("://", 1)[1].split("/")[0].split(","):
        if addr == dead:
            continue
        host, port = addr.rsplit(":", 1)
        node = redis.Redis(host=host, port=int(port), decode_responses=True)
        try:
            for start, end, master, *_ in node.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return f"{master[0]}:{master[1]}"
        except redis.RedisError:
            continue
        finally:
            node.close()
    return None


async def _add(backend: RedisBackend, first: int, n: int, deadline: float) -> list[str]:
    """Adds, retried while the cluster fails over (an add may fail meanwhile: the caller's to
    retry, as with any lost connection)."""
    while True:
        try:
            return await backend.enqueue_many(
                "r-echo", [({"n": i}, AddOptions()) for i in range(first, first + n)]
            )
        except (QgenError, redis.RedisError, OSError):
            assert time.monotonic() < deadline, "no add succeeded after the failover"
            await asyncio.sleep(0.2)


async def test_the_worker_and_client_follow_a_failover(
    backend: RedisBackend, cluster_url: str
) -> None:
    proc = rel.worker_process(cluster_url, "r-echo")
    try:
        before = await _add(backend, 0, 10, time.monotonic() + 30)
        for job_id in before:
            assert (await backend.wait("r-echo", job_id, 60)).status is JobStatus.COMPLETED
        master = backend.shared.url.split("://", 1)[1].rstrip("/")
        host, port = master.rsplit(":", 1)
        dying = redis.Redis(host=host, port=int(port))
        dying.execute_command("WAIT", 1, 5000)  # the replica has everything so far
        with contextlib.suppress(redis.RedisError):
            dying.shutdown(nosave=True)
        dying.close()
        slot = key_slot(backend.target.prefix.encode())
        deadline = time.monotonic() + 60
        while (new := _owner(cluster_url, slot, master)) in (None, master):
            assert time.monotonic() < deadline, "the replica never took over"
            await asyncio.sleep(0.2)
        after = await _add(backend, 10, 10, time.monotonic() + 60)
        assert new in backend.shared.url
        for n, job_id in enumerate(after, start=10):
            info = await backend.wait("r-echo", job_id, 60)
            assert info.status is JobStatus.COMPLETED and info.result["n"] == n
    finally:
        rel.stop(proc)

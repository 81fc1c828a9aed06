"""Redis Cluster reliability (issue 13, item 6), on a local three-master cluster: a worker killed
with SIGKILL mid-run loses no job (its jobs come back through BullMQ's stalled check and a new
worker completes every one), and a prefix whose slot moves to another master is followed."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis
import test_redis_reliability as rel
from redis.crc import key_slot
from support import redis_cluster

from qgen.runtime.backends.base import AddOptions, JobStatus
from qgen.runtime.backends.redis import RedisBackend

pytestmark = pytest.mark.slow
JOBS = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with redis_cluster.running_cluster() as url:
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


async def test_kill_9_on_a_cluster_loses_nothing(backend: RedisBackend, cluster_url: str) -> None:
    ids = await backend.enqueue_many(
        "r-kill", [({"n": i, "seconds": 0.02}, AddOptions()) for i in range(JOBS)]
    )
    keys = backend.catalog.keys("r-kill")
    # The keys live on the master serving the prefix's slot, the node qgen talks to.
    raw = aioredis.Redis.from_url(backend.shared.url, decode_responses=True)
    assert await raw.exists(keys.job(ids[0])) == 1
    try:
        for round_ in range(2):
            proc = rel.worker_process(cluster_url, "r-kill")
            target = 60 * (round_ + 1)
            await rel.wait_for(
                lambda: rel.count(raw, keys.completed), lambda c, t=target: c >= t, 60, "progress"
            )
            active = await raw.llen(keys.active)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert active > 0, "the kill should land while jobs are running"
        proc = rel.worker_process(cluster_url, "r-kill")
        try:
            await rel.wait_for(
                lambda: rel.count(raw, keys.completed), lambda c: c >= JOBS, 120, "all jobs"
            )
        finally:
            rel.stop(proc)
        assert await rel.count(raw, keys.failed) == 0
        infos = [await backend.get("r-kill", i) for i in ids]
        assert all(x is not None and x.status is JobStatus.COMPLETED for x in infos)
        stalled = [await raw.hget(keys.job(i), "stc") for i in ids]
        assert sum(1 for s in stalled if s and int(s) > 0) >= 2  # recovered, not re-added
    finally:
        await raw.aclose()


def _migrate_slot(cluster_url: str, tag: str) -> tuple[str, str]:
    """Move the slot of ``{tag}`` to another master, keys and all, as ``redis-cli --cluster
    reshard`` does; returns the old and the new master as host:port."""
    nodes = []
    for addr in cluster_url.split("://", 1)[1].split("/")[0].split(","):
        host, port = addr.rsplit(":", 1)
        nodes.append(redis.Redis(host=host, port=int(port), decode_responses=True))
    slot = key_slot(tag.encode())
    src = next(n for n in nodes if n.cluster("myid") in _owner_ids(n, slot))
    dst = next(n for n in nodes if n is not src)
    src_id, dst_id = src.cluster("myid"), dst.cluster("myid")
    dst_kw, src_kw = dst.connection_pool.connection_kwargs, src.connection_pool.connection_kwargs
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        src.execute_command("MIGRATE", dst_kw["host"], dst_kw["port"], "", 0, 5000, "KEYS", *keys)
    for n in nodes:
        n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    for n in nodes:
        n.close()
    return f"{src_kw['host']}:{src_kw['port']}", f"{dst_kw['host']}:{dst_kw['port']}"


def _owner_ids(node: redis.Redis, slot: int) -> set[str]:
    out: set[str] = set()
    for start, end, master, *_ in node.execute_command("CLUSTER", "SLOTS"):
        if int(start) <= slot <= int(end):
            out.add(str(master[2]))
    return out


async def test_a_slot_moved_under_a_running_worker_is_followed(
    backend: RedisBackend, cluster_url: str
) -> None:
    """The prefix's slot moves to another master (resharding) while a worker waits for jobs:
    the client's next add and the worker's marker wait get MOVED, look the master up again,
    and every job added before and after the move completes."""
    tag = backend.target.prefix
    before = await backend.enqueue_many("r-echo", [({"n": i}, AddOptions()) for i in range(20)])
    proc = rel.worker_process(cluster_url, "r-echo")
    try:
        for job_id in before:
            assert (await backend.wait("r-echo", job_id, 60)).status is JobStatus.COMPLETED
        old = backend.shared.url
        src, dst = await asyncio.to_thread(_migrate_slot, cluster_url, tag)
        after = await backend.enqueue_many(
            "r-echo", [({"n": i}, AddOptions()) for i in range(20, 40)]
        )
        assert backend.shared.url != old and dst in backend.shared.url, (src, dst)
        for job_id in after:
            info = await backend.wait("r-echo", job_id, 60)
            assert info.status is JobStatus.COMPLETED and info.result["n"] >= 20
    finally:
        rel.stop(proc)

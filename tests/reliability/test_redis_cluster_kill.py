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


class Migration:
    """Moving the slot of ``{tag}`` to another master, keys and all, as ``redis-cli --cluster
    reshard`` does, in steps: :meth:`begin` marks it migrating, :meth:`move` moves keys,
    :meth:`finish` moves the rest and gives the slot to the new master."""

    def __init__(self, cluster_url: str, tag: str) -> None:
        self.nodes = []
        for addr in cluster_url.split("://", 1)[1].split("/")[0].split(","):
            host, port = addr.rsplit(":", 1)
            self.nodes.append(redis.Redis(host=host, port=int(port), decode_responses=True))
        self.slot = key_slot(tag.encode())
        self.src = next(n for n in self.nodes if n.cluster("myid") in _owner_ids(n, self.slot))
        self.dst = next(n for n in self.nodes if n is not self.src)
        self.dst_kw = self.dst.connection_pool.connection_kwargs
        self.src_kw = self.src.connection_pool.connection_kwargs

    def begin(self) -> None:
        slot, src_id, dst_id = self.slot, self.src.cluster("myid"), self.dst.cluster("myid")
        self.dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        self.src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)

    def move(self, limit: int | None = None) -> int:
        moved = 0
        while limit is None or moved < limit:
            count = 100 if limit is None else min(100, limit - moved)
            keys = self.src.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, count)
            if not keys:
                break
            host, port = self.dst_kw["host"], self.dst_kw["port"]
            self.src.execute_command("MIGRATE", host, port, "", 0, 5000, "KEYS", *keys)
            moved += len(keys)
        return moved

    def finish(self) -> tuple[str, str]:
        """Returns the old and the new master as host:port."""
        self.move()
        dst_id = self.dst.cluster("myid")
        for n in self.nodes:
            n.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", dst_id)
        for n in self.nodes:
            n.close()
        return (
            f"{self.src_kw['host']}:{self.src_kw['port']}",
            f"{self.dst_kw['host']}:{self.dst_kw['port']}",
        )


def _migrate_slot(cluster_url: str, tag: str) -> tuple[str, str]:
    migration = Migration(cluster_url, tag)
    migration.begin()
    return migration.finish()


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


async def test_calls_made_while_the_slot_migrates_wait_it_out(
    backend: RedisBackend, cluster_url: str
) -> None:
    """The prefix's slot is half migrated (some keys on each master) while a worker runs and a
    client adds: the scripts answered TRYAGAIN or ASK are sent again, not failed, and once the
    slot has its new master every job added before, during and after completes."""
    tag = backend.target.prefix
    before = await backend.enqueue_many(
        "r-echo", [({"n": i, "seconds": 0.05}, AddOptions()) for i in range(40)]
    )
    proc = rel.worker_process(cluster_url, "r-echo")
    migration = await asyncio.to_thread(Migration, cluster_url, tag)
    finished = False
    try:
        await backend.wait("r-echo", before[0], 60)  # the worker runs
        await asyncio.to_thread(migration.begin)
        assert await asyncio.to_thread(migration.move, 10) == 10
        during = asyncio.create_task(backend.enqueue("r-echo", {"n": 100}, AddOptions()))
        await asyncio.sleep(0.5)
        if during.done():  # raises what the add met (TRYAGAIN before the fix)
            during.result()
            raise AssertionError("the add ran on a migrating slot it only partly holds")
        _src, dst = await asyncio.to_thread(migration.finish)
        finished = True
        ids = [*before, await asyncio.wait_for(during, 30)]
        ids += await backend.enqueue_many("r-echo", [({"n": 101}, AddOptions())])
        assert dst in backend.shared.url
        for job_id in ids:
            info = await backend.wait("r-echo", job_id, 60)
            assert info.status is JobStatus.COMPLETED, info
        assert proc.poll() is None, "the worker must survive the migration"
    finally:
        if not finished:  # the cluster serves the module's other tests
            await asyncio.to_thread(migration.finish)
        rel.stop(proc)

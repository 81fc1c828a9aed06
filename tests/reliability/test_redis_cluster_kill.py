"""Redis Cluster reliability (issue 13, item 6): a worker killed with SIGKILL mid-run on a
local three-master cluster loses no job; its jobs come back through BullMQ's stalled check
and a new worker completes every one."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis
import test_redis_reliability as rel
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

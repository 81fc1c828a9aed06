"""Interop with Node BullMQ on a Redis Cluster (issue 13, item 6): the two cases of
test_bullmq_node.py (a Node producer with the qgen worker; the qgen client with a Node
worker), with Node on an ioredis ``Cluster`` and qgen on a ``redis+cluster://`` URL, both with
the same hash-tagged prefix, on a local three-master cluster started for this module."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import test_bullmq_node as node_cases
from support import redis_cluster
from support.require import missing

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with redis_cluster.running_cluster() as url:
        yield url


@pytest.fixture
def cluster_url(cluster: str) -> Iterator[str]:
    if node_cases.NODE is None:
        missing("node is not installed: the Node BullMQ interop tests cannot run")
    if not (node_cases.NODE_DIR / "node_modules" / "bullmq").is_dir():
        missing(f"Node BullMQ is not installed: run `npm ci --prefix {node_cases.NODE_DIR}`")
    with redis_cluster.backend_url(cluster) as url:
        yield url


@pytest.fixture
async def client(cluster_url: str) -> AsyncIterator[node_cases.Client]:
    c = node_cases.Client(cluster_url)
    yield c
    await c.close()


async def test_node_producer_qgen_worker_on_a_cluster(cluster_url: str) -> None:
    assert cluster_url.startswith("redis+cluster://") and "prefix={" in cluster_url
    await node_cases.test_node_producer_qgen_worker(cluster_url)


async def test_qgen_client_node_worker_on_a_cluster(
    client: node_cases.Client, cluster_url: str
) -> None:
    await node_cases.test_qgen_client_node_worker(client, cluster_url)

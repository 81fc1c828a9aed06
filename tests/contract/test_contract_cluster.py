"""The contract suite's core cases on a Redis Cluster (issue 13, item 6): add, run, result,
retry, dead letter, job ids, delay, progress, two workers, SIGTERM, the blocking client. The
cases are the suite's own functions, run with a ``BackendCase`` whose URL is a
``redis+cluster://`` URL of a local three-master cluster (``support.redis_cluster``) and a
hash-tagged prefix; the cluster is started once for this module and stopped afterwards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import test_contract_failures as failures
import test_contract_lifecycle as lifecycle
import test_contract_sync_client as sync_client
import test_contract_workers as workers
from contract_harness import BackendCase
from support import redis_cluster

Case = Callable[[BackendCase], Awaitable[None]]
CORE: list[Case] = [
    lifecycle.test_typed_result_and_status_transitions,
    lifecycle.test_queue_without_result,
    lifecycle.test_same_job_id_makes_one_job,
    lifecycle.test_delay,
    lifecycle.test_priority_order,
    lifecycle.test_progress,
    failures.test_exception_is_retried_with_backoff_then_fails,
    failures.test_fail_retries_then_fails,
    failures.test_discard_ends_the_job_without_retry,
    failures.test_failed_job_is_copied_to_the_dead_letter_queue,
    workers.test_two_workers_never_run_the_same_job_at_once,
    workers.test_sigterm_lets_running_jobs_finish_and_loses_nothing,
    sync_client.test_blocking_client,
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with redis_cluster.running_cluster() as url:
        yield url


@pytest.fixture
def cluster_backend(cluster: str, tmp_path: Path) -> Iterator[BackendCase]:
    with redis_cluster.backend_url(cluster) as url:
        yield BackendCase("redis", url, tmp_path)


@pytest.mark.parametrize("case", CORE, ids=[c.__name__.removeprefix("test_") for c in CORE])
async def test_core_case_on_a_redis_cluster(cluster_backend: BackendCase, case: Case) -> None:
    await case(cluster_backend)

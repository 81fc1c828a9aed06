"""The contract suite's operator cases (issue 14) on a Redis Cluster: counts, paging, cancel
(waiting and running), retry, pause, clean, redrive, workers and retention, run with a
``BackendCase`` whose URL is a ``redis+cluster://`` URL of a local three-master cluster
(``support.redis_cluster``) and a hash-tagged prefix, as test_contract_cluster.py does for the
core cases. Every key of a prefix lives on one master, so BullMQ's scripts, qgen's own and the
transactions run there as on one server; the worker registry is read on that master too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import test_contract_ops_act as act
import test_contract_ops_read as read
from contract_harness import BackendCase
from support import redis_cluster

Case = Callable[[BackendCase, pytest.FixtureRequest], Awaitable[None]]
OPS: list[Case] = [
    read.test_counts_per_status,
    read.test_job_list_is_typed_newest_first_and_pages_stably,
    read.test_dead_letter_copies_name_their_source,
    read.test_workers_lists_running_workers,
    act.test_cancelled_waiting_and_delayed_jobs_never_start,
    act.test_cancelling_a_running_async_job_cancels_its_task_once_for_good,
    act.test_a_cancel_reaches_a_running_job_long_before_its_lease_renewal,
    act.test_retry_runs_a_failed_job_again_with_fresh_attempts,
    act.test_pause_stops_new_jobs_until_resume_and_loses_none,
    act.test_clean_deletes_finished_jobs_by_status_age_and_keep,
    act.test_redrive_moves_valid_dead_letters_and_keeps_invalid_ones,
    act.test_finished_jobs_are_removed_by_age,
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with redis_cluster.running_cluster() as url:
        yield url


@pytest.fixture
def cluster_backend(cluster: str, tmp_path: Path) -> Iterator[BackendCase]:
    with redis_cluster.backend_url(cluster) as url:
        yield BackendCase("redis", url, tmp_path)


@pytest.mark.parametrize("case", OPS, ids=[c.__name__.removeprefix("test_") for c in OPS])
async def test_operator_case_on_a_redis_cluster(
    cluster_backend: BackendCase, case: Case, request: pytest.FixtureRequest
) -> None:
    await case(cluster_backend, request)

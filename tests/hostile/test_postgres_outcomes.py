"""Issue 10 item 4, the PostgreSQL backend's part: one bad outcome fails only its job, never
the round. The runner already refuses unstorable results; these outcomes reach the backend
below it (a handler of its own), so the backend must hold on its own: a result jsonb cannot
store, a retry delay beyond any interval, error texts with NUL or lone surrogates, and an
outcome the server refuses for a reason no client check foresees (a trigger here). Each bad job
ends on its own with a clear error; its batch-mates complete; the queue keeps moving."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from qgen.runtime.backends.base import (
    AddOptions,
    Completed,
    Delivery,
    ErrorInfo,
    Failed,
    JobStatus,
    Outcome,
    Retry,
)
from qgen.runtime.backends.postgres import PostgresBackend
from qgen.runtime.backends.postgres.url import parse_url
from qgen.runtime.config_keys import MAX_DELAY_S
from qgen.runtime.settings import resolve
from tests.support.postgres import backend_url


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


# job id -> the outcome its handler returns on the first attempt (later ones complete)
HOSTILE: dict[str, Outcome] = {
    "nan": Completed(float("nan")),
    "inf": Completed({"v": [1.0, float("-inf")]}),
    "deep": Completed(_deep(5000)),
    "object": Completed({"thing": object()}),
    "surrogate": Completed({"text": "lone \ud800"}),
    "nul": Completed("a\x00b"),
    "retry-inf": Retry(ErrorInfo("Boom", "retry me"), float("inf")),
    "retry-huge": Retry(ErrorInfo("Boom", "retry me"), 1e300),
    "retry-nan": Retry(ErrorInfo("Boom", "retry me"), float("nan")),
    "error-text": Failed(ErrorInfo("Bad\x00Type", "nul \x00 and lone \udc80", "tb \ud800"), None),
}
RESULT_NOT_STORABLE = ("nan", "inf", "deep", "object", "surrogate", "nul")


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with backend_url(tmp_path) as url:
        yield url


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    pg = parse_url(url)
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        cur = conn.execute(sql.SQL(query).format(s=sql.Identifier(pg.schema)), params)
        return cur.fetchall() if cur.description else []


@contextlib.asynccontextmanager
async def _consuming(backend: PostgresBackend, outcomes: dict[str, Outcome]) -> AsyncIterator[None]:
    async def handle(d: Delivery) -> Outcome:
        if d.attempt == 1 and d.job_id in outcomes:
            return outcomes[d.job_id]
        return Completed({"ok": d.job_id})

    settings = resolve("q", {"batch_size": 20, "poll_interval": 50}, "postgres")
    consumer = backend.consume([settings], handle)
    task = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        await consumer.stop(5)
        await asyncio.wait_for(task, 30)


async def _settled(backend: PostgresBackend, ids: list[str], timeout: float = 20) -> None:
    """Every job of ``ids`` left the active state (the rounds recorded them)."""
    deadline = time.monotonic() + timeout
    while True:
        infos = [await backend.get("q", job_id) for job_id in ids]
        if all(
            i is not None and i.status not in (JobStatus.ACTIVE, JobStatus.WAITING) for i in infos
        ):
            return
        left = [i.id for i in infos if i is not None and i.status is JobStatus.ACTIVE]
        assert time.monotonic() < deadline, f"outcomes never recorded: {left} still active"
        await asyncio.sleep(0.05)


async def test_unstorable_outcomes_fail_alone(pg_url: str) -> None:
    backend = await PostgresBackend.connect(pg_url, {"q": {"attempts": 3}})
    try:
        ids = ["ok-0", *HOSTILE, "ok-1", "ok-2"]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        async with _consuming(backend, HOSTILE):
            await _settled(backend, ids)
            for job_id in ("ok-0", "ok-1", "ok-2"):
                info = await backend.wait("q", job_id, 10)
                assert info.status is JobStatus.COMPLETED and info.result == {"ok": job_id}
            for job_id in RESULT_NOT_STORABLE:
                info = await backend.wait("q", job_id, 10)
                assert info.status is JobStatus.FAILED, job_id
                assert info.error is not None and info.error.type == "ResultNotStorable", job_id
            for job_id in ("retry-inf", "retry-huge"):
                info = await backend.get("q", job_id)
                assert info is not None and info.status is JobStatus.DELAYED, job_id
                assert info.attempts_made == 1, job_id
                assert info.error is not None and info.error.message == "retry me"
            info = await backend.wait("q", "retry-nan", 10)  # NaN: retried now, then completed
            assert info.status is JobStatus.COMPLETED and info.attempts_made == 2
            # a delay past any interval is clamped to the longest one qgen allows
            waits = dict(
                _sql(
                    pg_url,
                    "SELECT id, extract(epoch FROM start_after - now()) "
                    "FROM {s}.job WHERE id LIKE 'retry-%%'",
                )
            )
            assert MAX_DELAY_S - 60 < waits["retry-inf"] <= MAX_DELAY_S
            assert MAX_DELAY_S - 60 < waits["retry-huge"] <= MAX_DELAY_S
            info = await backend.get("q", "error-text")
            assert info is not None and info.status is JobStatus.FAILED and info.error is not None
            assert info.error.type == "Bad\ufffdType"
            assert info.error.message == "nul \ufffd and lone \ufffd"
            # the queue keeps moving
            later = await backend.enqueue("q", {"later": True}, AddOptions())
            assert (await backend.wait("q", later, 10)).status is JobStatus.COMPLETED
    finally:
        await backend.close()


async def test_an_outcome_the_server_refuses_fails_only_its_job(pg_url: str) -> None:
    """The server refuses to complete one job (a trigger stands for any such cause): the round
    is recorded again one outcome at a time, that job fails with the server's reason, and the
    jobs finished beside it complete."""
    backend = await PostgresBackend.connect(pg_url, {"q": {}})
    try:
        _sql(
            pg_url,
            "CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.id = 'refused' AND NEW.state = 'completed' THEN "
            "RAISE EXCEPTION 'completing this job is refused' USING ERRCODE = '22023'; "
            "END IF; RETURN NEW; END $$",
        )
        _sql(
            pg_url,
            "CREATE TRIGGER refuse BEFORE UPDATE ON {s}.job "
            "FOR EACH ROW EXECUTE FUNCTION {s}.refuse()",
        )
        ids = ["a", "b", "refused", "c", "d"]
        await backend.enqueue_many("q", [({"n": i}, AddOptions(job_id=i)) for i in ids])
        async with _consuming(backend, {}):
            await _settled(backend, ids)
            for job_id in ("a", "b", "c", "d"):
                assert (await backend.wait("q", job_id, 10)).status is JobStatus.COMPLETED
            info = await backend.wait("q", "refused", 10)
            assert info.status is JobStatus.FAILED and info.error is not None
            assert info.error.type == "OutcomeNotStorable"
            assert "completing this job is refused" in info.error.message
            later = await backend.enqueue("q", {"later": True}, AddOptions())
            assert (await backend.wait("q", later, 10)).status is JobStatus.COMPLETED
    finally:
        await backend.close()

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from qgen.runtime import logs


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    logs.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.ContextFormatter("%(queue)s|%(job_id)s|%(message)s"))
    logger = logging.getLogger("qgen.test_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_records_carry_queue_and_job_id(stream: io.StringIO) -> None:
    log = logging.getLogger("qgen.test_logs")
    log.info("outside")
    with logs.job_context("payments", "job-1"):
        log.info("inside")
        log.info("override", extra={"queue": "other"})  # extra= still works and wins
    log.info("after")
    assert lines(stream) == [
        "-|-|outside",
        "payments|job-1|inside",
        "other|job-1|override",
        "-|-|after",
    ]


def test_child_loggers_and_threads_inherit_the_context(stream: io.StringIO) -> None:
    child = logging.getLogger("qgen.test_logs.child")

    async def job() -> None:
        with logs.job_context("q", "j"):
            await asyncio.to_thread(child.info, "from a thread")

    asyncio.run(job())
    plain = threading.Thread(target=child.info, args=("plain thread",))
    plain.start()
    plain.join()
    assert lines(stream) == ["q|j|from a thread", "-|-|plain thread"]


def test_context_filter_for_foreign_handlers() -> None:
    logs.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(queue)s %(job_id)s %(message)s"))
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger("qgen.test_logs.filter")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        tokens = logs.bind("q2", "j2")
        logger.info("hello")
        logs.unbind(tokens)
    finally:
        logger.removeHandler(handler)
    assert out.getvalue() == "q2 j2 hello\n"

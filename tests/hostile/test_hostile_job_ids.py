"""Issue 10 item 1: job ids that name BullMQ's own keys (or contain ':') are refused with one
clear error on every backend, for ``add``, for ``add_many``'s items and for ``get``; nothing is
written and the queue keeps working. The rule is checked against the pinned BullMQ wheel."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_app.jobs import Item, seen
from hostile_harness import ROOT, HostileCase, eventually, worker

from qgen.runtime.backends.base import AddOptions
from qgen.runtime.bullmq_keys import JOB_KEY_SUFFIXES, QUEUE_KEY_NAMES, derive
from qgen.runtime.capabilities import Feature
from qgen.runtime.errors import InvalidJobId, JobNotFound

# The names issue 10 lists, and side keys of a job it names.
ISSUE_NAMES = {
    "events", "meta", "wait", "paused", "id", "prioritized", "marker", "pc",
    "completed", "failed", "delayed", "stalled", "limiter",
}  # fmt: skip
HOSTILE_IDS = [
    *sorted(ISSUE_NAMES),
    "stalled-check",
    "waiting-children",
    "repeat",
    "de",
    "metrics",
    "x:lock",
    "x:logs",
    "a:b",
    "12345",
    "0",
    "",
    "has space",
    "x" * 129,
]


def test_rule_matches_the_pinned_bullmq_wheel() -> None:
    spec = importlib.util.find_spec("bullmq")
    assert spec is not None and spec.origin is not None
    names, suffixes = derive(Path(spec.origin).resolve().parent)
    assert (names, suffixes) == (QUEUE_KEY_NAMES, JOB_KEY_SUFFIXES), (
        "run scripts/update_bullmq_keys.py"
    )
    assert names >= ISSUE_NAMES
    assert {"lock", "logs"} <= suffixes
    check = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "update_bullmq_keys.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


async def test_hostile_ids_are_refused_and_nothing_is_written(backend: HostileCase) -> None:
    client = backend.client()
    queue = client.queue("h-record")
    try:
        for job_id in HOSTILE_IDS:
            with pytest.raises(InvalidJobId) as info:
                await queue.add(Item(key=f"bad-{job_id}"), job_id=job_id)
            assert repr(job_id) in str(info.value)
        async with backend.raw_backend() as raw:
            for job_id in ("events", "x:lock", "777"):
                items = [({"key": "first"}, AddOptions(job_id="fine-1")), ({"key": "bad"},
                         AddOptions(job_id=job_id))]  # fmt: skip
                with pytest.raises(InvalidJobId):
                    await raw.enqueue_many("h-record", items)
        for job_id in ("events", "wait", "x:lock"):
            with pytest.raises(InvalidJobId):
                queue.get(job_id)
        # ids a backend assigns itself can still be looked up
        if backend.supports(Feature.STATUS):
            with pytest.raises(JobNotFound):
                await queue.get("424242").status()
        # the queue still works, and none of the refused jobs was written
        good = await queue.add(Item(key="good"), job_id="order-7.a@b_c")
        assert good.id == "order-7.a@b_c"
        async with worker(backend, ["h-record"]) as task:
            await eventually(lambda: seen("h-record"), lambda s: "good" in s, worker_task=task)
            await queue.add(Item(key="after"))
            await eventually(lambda: seen("h-record"), lambda s: "after" in s, worker_task=task)
        assert sorted(seen("h-record")) == ["after", "good"]
    finally:
        await client.close()

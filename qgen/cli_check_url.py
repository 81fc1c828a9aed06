"""``qgen check --url URL`` (issue 18, item 3): before a deploy, the jobs still queued in the
live backend, checked against this build's input types (:mod:`qgen.runtime.live_check`).

It runs after the usual ``qgen check`` (stale output, the schema lock) and goes through the
built project's generated client, as the operator commands do. Output, per queue::

    payments: 120 checked (waiting 100, delayed 20), 3 would fail
      e.g. job o-17 (waiting): currency: Field required; this job was likely made by schema ...
           data: {"amount": 5, "order_id": "o-17"}

Exit codes: 0 every queued job validates, 1 some would fail, 2 errors: an unreachable backend,
or one that cannot list jobs (SQS: the capability table's reason; nothing is received). The URL
is only ever printed masked; payloads are cut to 200 characters.
"""

from __future__ import annotations

import asyncio
from typing import TextIO

from qgen.config import Config
from qgen.runtime.backends.ops import QueueCounts
from qgen.runtime.errors import QgenError, UnsupportedByBackend
from qgen.runtime.live_check import QueueCheck, check_queues, unchecked
from qgen.runtime.manifest import load_manifest
from qgen.runtime.schema_changes import read_histories
from qgen.runtime.urls import mask_url


def check_url(config: Config, url: str, out: TextIO, err: TextIO, *, stale: bool) -> int:
    manifest = load_manifest(config.out_dir / "manifest.json")
    from qgen.runtime.project_client import client_class

    client = client_class(manifest)(url)
    shown = mask_url(url)
    if stale:
        print(
            "qgen: note: the generated output is stale; queued jobs are checked against the "
            "types on disk (run `qgen build` first)",
            file=err,
        )

    queues = list(client.QUEUES)

    async def run() -> list[QueueCheck] | UnsupportedByBackend:
        try:
            return await check_queues(client, queues, read_histories(manifest.path))
        except UnsupportedByBackend as exc:
            try:
                counts = await unchecked(client, queues)
            except QgenError:  # the refusal is the answer; counts were only a courtesy
                counts = None
            _print_unchecked(queues, counts, out)
            return exc
        finally:
            await client.close()

    results = asyncio.run(run())
    if isinstance(results, UnsupportedByBackend):
        print(
            f"qgen: cannot check the queued jobs at {shown}: {results}. No job was checked, "
            "and none was received or changed.",
            file=err,
        )
        return 2
    print(f"queued jobs at {shown}, against this build's input types:", file=out)
    for result in results:
        _print(result, out)
    failing = sum(r.failing for r in results)
    if failing:
        where = sum(1 for r in results if r.failing)
        print(f"{failing} queued job(s) in {where} queue(s) would fail with this build", file=out)
        return 1
    return 0


def _print(result: QueueCheck, out: TextIO) -> None:
    parts = ", ".join(f"{status} {n}" for status, n in result.checked.items())
    verdict = f"{result.failing} would fail" if result.failing else "all valid"
    if not result.total:
        print(f"{result.queue}: no job waiting or delayed", file=out)
        return
    print(f"{result.queue}: {result.total} checked ({parts}), {verdict}", file=out)
    example = result.example
    if example is not None:
        print(f"  e.g. job {example.job_id} ({example.status}): {example.error}", file=out)
        print(f"       data: {example.payload}", file=out)


def _print_unchecked(queues: list[str], counts: list[QueueCounts] | None, out: TextIO) -> None:
    """What stays unchecked, per queue, when the backend cannot list jobs but can count them."""
    if counts is None:
        return
    print("not checked (the backend cannot list jobs):", file=out)
    for name, c in zip(queues, counts, strict=True):
        mark = "~" if c.approximate else ""
        held = f"{mark}{c.waiting} waiting, {mark}{c.delayed} delayed, {mark}{c.active} active"
        print(f"{name}: {held}", file=out)

"""The generated client and worker modules work with the runtime: a job added through the
generated client is run by the generated project's worker on the embedded SQLite backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.golden.harness import build_case

SCRIPT = """
import asyncio, json, sys
from qgen.runtime.manifest import load_manifest
from qgen.runtime.worker import run_worker
from shop.generated import models
from shop.generated.client import AsyncQueueClient

async def main() -> None:
    url = sys.argv[1]
    manifest = load_manifest("shop/generated/manifest.json")
    async with AsyncQueueClient(url) as client:
        # NotRequired key left out, defaulted field left out: the worker must accept both.
        email = await client.add("emails", {"to": "a@example.com", "name": "Ann"})
        pay = await client.payments.add(models.PaymentRequest(order_id="o1", amount=5))
        article = await client.publish_article.add(models.Article(slug="s1", title="T"))
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(
            url, wiring_modules=manifest.wiring_modules, services=manifest.services,
            stop=stop, manifest=manifest, grace=5,
        ))
        try:
            results = [
                await email.result(timeout=20),
                (await pay.result(timeout=20)).transaction_id,
                await article.result(timeout=20),
            ]
        finally:
            stop.set()
            await worker
        print(json.dumps({"results": results, "status": str(await email.status())}))

asyncio.run(main())
"""


def test_generated_client_and_worker_round_trip(tmp_path: Path) -> None:
    project = build_case("shop", tmp_path)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, url],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["results"] == [None, "tx-o1", "s1"]
    assert got["status"].endswith("completed")

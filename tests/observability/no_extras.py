"""Run as a script by test_no_extras.py: qgen with neither opentelemetry nor prometheus-client
importable (as if the extras were not installed). Adds a job, runs a worker until it is done,
checks ``--metrics-port`` fails clearly, and prints what got imported as JSON."""

from __future__ import annotations

import sys

for _name in ("opentelemetry", "prometheus_client"):
    sys.modules[_name] = None  # type: ignore[assignment]  # import fails; find_spec says None

import asyncio  # noqa: E402
import json  # noqa: E402

from obs_app.generated.client import AsyncQueueClient  # noqa: E402

from qgen.runtime import telemetry  # noqa: E402
from qgen.runtime.errors import ConfigError  # noqa: E402
from qgen.runtime.worker import run_worker  # noqa: E402


async def main(url: str) -> dict[str, object]:
    client = AsyncQueueClient.from_url(url)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            url,
            wiring_modules=["obs_app.wiring"],
            services="obs_app.services:create_services",
            stop=stop,
        )
    )
    try:
        handle = await client.obs.add({"mode": "ok"})
        result = await handle.result(timeout=60)
    finally:
        stop.set()
        await task
        await client.close()
    telemetry.settings.metrics_port = 9
    try:
        await telemetry.worker_started(None, "sqlite", [])  # type: ignore[arg-type]
        refused = ""
    except ConfigError as exc:
        refused = str(exc)
    loaded = sorted(
        m
        for m, mod in sys.modules.items()
        if mod is not None and m.startswith(("opentelemetry", "prometheus_client"))
    )
    return {
        "attempt": result.attempt,
        "tracing": telemetry.tracing_wanted(),
        "loaded": loaded,
        "refused": refused,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))))

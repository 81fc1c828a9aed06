"""AWS Lambda host for an SQS event source: the generated ``<out>/workers/sqs_lambda.py``.

    handler = make_handler(MANIFEST)   # handler(event, context) -> {"batchItemFailures": [...]}

Like the worker process (:mod:`qgen.runtime.worker`), it hosts the jobs: per container (the first
event) the wiring modules are imported, checked against the manifest and the services created
once; an event loop is kept for the container's life so services bound to it (HTTP sessions,
pools) survive between events. Each record runs through the same runner as the long-polling
worker; the SQS backend turns the event's records into outcomes and Lambda's answer
(:mod:`qgen.runtime.backends.sqs.lambda_events`).

Settings: ``QGEN_URL`` (``sqs://<region>?prefix=...``; default ``sqs://$AWS_REGION``) gives the
queue-name prefix and the region for dead-letter copies and visibility changes.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qgen.runtime import telemetry
from qgen.runtime.backends.sqs import SqsBackend
from qgen.runtime.manifest import load_manifest
from qgen.runtime.worker import App, load_app

LambdaHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def make_handler(manifest_path: str | Path) -> LambdaHandler:
    container = _Container(Path(manifest_path))

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        return container.handle(event)

    return handler


class _Container:
    def __init__(self, manifest_path: Path) -> None:
        self.manifest_path = manifest_path
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: App | None = None
        self.backend: SqsBackend | None = None

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self._handle(event))

    async def _start(self) -> tuple[App, SqsBackend]:
        if self.app is None or self.backend is None:
            manifest = load_manifest(self.manifest_path)
            root = str(manifest.project_root)
            if root not in sys.path:
                sys.path.insert(0, root)
            app = await load_app(
                wiring_modules=manifest.wiring_modules,
                services=manifest.services,
                backend="sqs",
                queues=sorted(manifest.queues),
                manifest=manifest,
            )
            url = os.environ.get("QGEN_URL") or f"sqs://{os.environ.get('AWS_REGION', '')}"
            self.backend = await SqsBackend.connect(url, app.settings_by_name())
            self.app = app
        return self.app, self.backend

    async def _handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        app, backend = await self._start()
        handle = telemetry.instrument(app.handle, "sqs")  # a span per record when tracing is on
        return await backend.run_lambda_event(event, handle, set(app.runners))

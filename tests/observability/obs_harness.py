"""Helpers of the observability tests: every backend on a real server, a generated worker of
the test project run as a separate process (traced, with JSON logs or a metrics port), and an
OpenTelemetry SDK tracer for the client side of this process. The fixtures are registered by
this directory's conftest.py (test modules import from here: several test directories have a
``conftest`` module)."""

from __future__ import annotations

import contextlib
import importlib
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import obs_project
import pytest
import spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from qgen.runtime import telemetry
from qgen.runtime.capabilities import BACKENDS
from qgen.runtime.telemetry import tracing

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Case:
    name: str
    url: str


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    provider: Any = importlib.import_module(f"support.{request.param}")
    with provider.backend_url(tmp_path) as url:
        yield Case(request.param, url)


@dataclass
class ClientTracing:
    tracer: Any
    exporter: InMemorySpanExporter

    def spans(self) -> list[dict[str, Any]]:
        return [spans.record(s) for s in self.exporter.get_finished_spans()]


@pytest.fixture
def client_tracing(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientTracing]:
    """The SDK for this process's client: qgen's tracer comes from a provider with an
    in-memory exporter (the global provider is left alone, so other tests see no spans)."""
    monkeypatch.delenv("QGEN_TRACING", raising=False)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_tracer", provider.get_tracer("qgen"))
    monkeypatch.setattr(tracing, "sdk_configured", lambda: True)  # for qgen's tracer, it is
    telemetry.reset()
    yield ClientTracing(provider.get_tracer("tests"), exporter)
    telemetry.reset()
    provider.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    spans_file: Path
    log_file: Path

    def spans(self) -> list[dict[str, Any]]:
        return spans.read(self.spans_file)

    def log_lines(self) -> list[str]:
        return self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker exited ({self.proc.returncode}):\n{self.output()}")

    def output(self) -> str:
        return "\n".join(self.log_lines()[-60:])


@contextlib.contextmanager
def worker(
    case: Case,
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    traced: bool = True,
) -> Iterator[Worker]:
    """The generated worker of the test project for ``case``, traced (SDK configured by
    ``traced_worker.py``; ``traced=False``: no SDK), in its own process until the block ends
    (then SIGTERM)."""
    spans_file, log_file = tmp_path / "spans.jsonl", tmp_path / "worker.log"
    module = f"obs_app.generated.workers.{case.name}"
    cmd = [sys.executable, str(HERE / "traced_worker.py"), str(spans_file), module]
    if not traced:
        cmd = [sys.executable, "-m", module]
    cmd += ["--url", case.url, "--queues", "obs", "--grace", "10", *args]
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=obs_project.PROJECT,
            env=obs_project.env(env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    w = Worker(proc, spans_file, log_file)
    try:
        yield w
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

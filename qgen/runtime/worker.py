"""The worker process: start-up checks, services, one consumer, signals and a graceful drain.

Generated ``<out>/workers/<backend>.py`` modules call :func:`main` with their manifest; tests and
ad-hoc runs use ``python -m qgen.runtime.worker --url URL --wiring mod[,mod]
[--services mod:attr] [--queues a,b] [--grace S]`` (no build needed).

Start-up refuses to run (exit 2, one clear message) when a wiring module or a wired function
cannot be imported, a queue of the manifest is not wired (or wired to another function), or the
code's config differs from the build's. It logs, per queue, the config keys the backend ignores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qgen.runtime import capabilities, logs, schedule_runner, schema_changes, telemetry
from qgen.runtime.backends.base import Backend, Consumer, Delivery, Outcome
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.errors import BackendUnavailable, ConfigError
from qgen.runtime.manifest import Manifest, load_manifest
from qgen.runtime.presence import Presence
from qgen.runtime.runner import Runner
from qgen.runtime.services import load_object, open_services
from qgen.runtime.settings import QueueSettings, resolve
from qgen.runtime.urls import mask_url
from qgen.runtime.wiring import QueueWiring, registered

log = logging.getLogger("qgen.worker")


@dataclass
class App:
    """Everything a worker process needs besides the backend connection."""

    runners: dict[str, Runner]
    wirings: dict[str, QueueWiring]
    services: Any
    settings: list[QueueSettings]  # the queues to consume, typed for the backend
    all_settings: list[QueueSettings] = field(default_factory=list)  # every wired queue
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    def settings_by_name(self) -> dict[str, QueueSettings]:
        """Every wired queue's settings: what the backend is opened with."""
        return {s.name: s for s in self.all_settings}

    async def close(self) -> None:
        for runner in self.runners.values():
            runner.close()
        await self._stack.aclose()

    async def handle(self, delivery: Delivery) -> Outcome:
        return await self.runners[delivery.queue].run(delivery)


def _qualname(func: Any) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"


def _import_wiring(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"cannot import wiring module {name!r}: {exc}") from exc
        except ConfigError as exc:
            raise ConfigError(f"wiring module {name!r}: {exc}") from exc
        except Exception as exc:  # the module itself is broken: say where, don't carry on
            raise ConfigError(
                f"error while importing wiring module {name!r}: {type(exc).__name__}: {exc}"
            ) from exc


def _check_manifest(manifest: Manifest, wirings: dict[str, QueueWiring]) -> None:
    problems: list[str] = []
    for name, mq in manifest.queues.items():
        wiring = wirings.get(name)
        if wiring is None:
            problems.append(f"queue {name!r} is in the build but not wired by {mq.wiring_module!r}")
            continue
        try:
            load_object(mq.function, what=f"function of queue {name!r}")
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        if _qualname(wiring.func) != mq.function:
            problems.append(
                f"queue {name!r} is wired to {_qualname(wiring.func)} but the build says "
                f"{mq.function}"
            )
        elif dict(wiring.config) != dict(mq.config):
            problems.append(f"queue {name!r}: its config changed since the last build")
    for name in sorted(set(wirings) - set(manifest.queues)):
        problems.append(f"queue {name!r} is wired but not in the build")
    if problems:
        raise ConfigError("; ".join(problems) + "; run `qgen build`")


async def load_app(
    *,
    wiring_modules: Sequence[str],
    services: str | None,
    backend: str,
    queues: Sequence[str] | None = None,
    manifest: Manifest | None = None,
) -> App:
    """Import the wiring, check it against the manifest, create services once, build runners.

    ``queues`` names the queues to consume (even those with ``autorun=False``); None: every
    wired queue whose ``autorun`` is true."""
    _import_wiring(wiring_modules)
    wirings = registered()
    if manifest is not None:
        _check_manifest(manifest, wirings)
    if not wirings:
        raise ConfigError(f"no queue is wired by {', '.join(wiring_modules) or 'any module'}")
    all_settings = [resolve(q, w.config, backend) for q, w in sorted(wirings.items())]
    if queues:
        unknown = sorted(set(queues) - set(wirings))
        if unknown:
            raise ConfigError(
                f"unknown queue(s) {', '.join(unknown)}; wired: {', '.join(sorted(wirings))}"
            )
        selected = sorted(set(queues))
    else:
        selected = sorted(s.name for s in all_settings if s.autorun)
    app = App(
        runners={},
        wirings=wirings,
        services=None,
        settings=[s for s in all_settings if s.name in selected],
        all_settings=all_settings,
    )
    try:
        # Types first (ConfigError when pydantic cannot build them), then services, so a bad
        # annotation never opens the services' connections.
        for settings in app.settings:
            q = settings.name
            app.runners[q] = Runner(wirings[q], None, backend=backend, settings=settings)
        schema_changes.attach(app.runners, manifest)
        app.services = await open_services(services, app._stack)
        for runner in app.runners.values():
            runner.services = app.services
    except BaseException:
        await app.close()
        raise
    for s in app.settings:
        for key, reason in capabilities.unsupported_keys(dict(wirings[s.name].config), backend):
            log.warning(
                "queue %s: config key %r is ignored by the %s backend: %s",
                s.name,
                key,
                backend,
                reason,
                extra={"queue": s.name},
            )
        log.info("queue %s on %s: %s", s.name, backend, s.describe(), extra={"queue": s.name})
    return app


async def run_worker(
    url: str,
    *,
    wiring_modules: Sequence[str],
    services: str | None,
    queues: Sequence[str] | None = None,
    grace: float = 30.0,
    stop: asyncio.Event | None = None,
    manifest: Manifest | None = None,
    backend: str | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT when no event is given), then drain:
    running jobs get ``grace`` seconds, the rest go back to the queue. A second signal stops
    waiting at once; jobs still running then come back after their lease, as after a crash."""
    logs.install()
    name = capabilities.backend_for_url(url)
    if backend is not None and backend != name:
        raise ConfigError(
            f"this is the {backend} worker but the URL is for {name}: {mask_url(url)!r}"
        )
    app = await load_app(
        wiring_modules=wiring_modules,
        services=services,
        backend=name,
        queues=queues,
        manifest=manifest,
    )
    loop = asyncio.get_running_loop()
    force = asyncio.Event()  # a second signal: stop waiting for running jobs
    installed: list[signal.Signals] = []
    if stop is None:
        stop = asyncio.Event()
        installed = _install_signals(loop, stop, force)
    try:
        if not app.settings:
            log.warning("no queue to consume (all have autorun=False; name them with --queues)")
            await stop.wait()
            return
        conn = await open_backend(url, app.settings_by_name())
        try:
            async with schedule_runner.running(conn, manifest, [s.name for s in app.settings]):
                await _consume(conn, app, name, stop, force, grace)
        finally:
            await conn.close()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await app.close()


def _install_signals(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, force: asyncio.Event
) -> list[signal.Signals]:
    installed: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, _on_signal, sig, stop, force)
            installed.append(sig)
    return installed


async def _consume(
    conn: Backend, app: App, name: str, stop: asyncio.Event, force: asyncio.Event, grace: float
) -> None:
    """Run the consumer until ``stop``, then drain it (unless ``force`` comes first)."""
    obs = await telemetry.worker_started(conn, name, app.settings)  # metrics, traces, logs
    consumer = conn.consume(app.settings, obs.wrap(app.handle))
    log.info(
        "worker started on %s: %s",
        name,
        ", ".join(f"{s.name} (x{s.batch_size})" for s in app.settings),
    )
    run_task = asyncio.create_task(consumer.run(), name="qgen-consumer")
    stop_task = asyncio.create_task(stop.wait(), name="qgen-stop")
    presence = Presence(conn, name, app.settings)
    beat_task = asyncio.create_task(presence.run(), name="qgen-heartbeat")
    try:
        await _run_until_stopped(consumer, run_task, stop_task, stop, force, grace, name)
    finally:
        beat_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat_task
        await presence.leave()
        await obs.close()


async def _run_until_stopped(
    consumer: Consumer,
    run_task: asyncio.Task[None],
    stop_task: asyncio.Task[bool],
    stop: asyncio.Event,
    force: asyncio.Event,
    grace: float,
    name: str,
) -> None:
    await asyncio.wait({run_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
    if not run_task.done():
        log.info("stopping: running jobs get %g s to finish", grace)
        if not await _stop_unless_forced(consumer.stop(grace), force):
            # The jobs still leased come back after their lease, like after a crash.
            log.warning("second signal: not waiting for running jobs")
            run_task.cancel()
            stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run_task
            return
    stop_task.cancel()
    await run_task  # re-raises a consumer crash
    if not stop.is_set():
        log.warning("the %s consumer stopped on its own", name)
    log.info("worker stopped")


def _on_signal(sig: signal.Signals, stop: asyncio.Event, force: asyncio.Event) -> None:
    log.info("received %s", sig.name)
    if stop.is_set():
        force.set()
    stop.set()


async def _stop_unless_forced(stopping: Coroutine[Any, Any, None], force: asyncio.Event) -> bool:
    """Await ``stopping``; False (and cancelled) if ``force`` is set first."""
    stop_task = asyncio.ensure_future(stopping)
    force_task = asyncio.ensure_future(force.wait())
    await asyncio.wait({stop_task, force_task}, return_when=asyncio.FIRST_COMPLETED)
    force_task.cancel()
    if stop_task.done():
        stop_task.result()
        return True
    stop_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stop_task
    return False


def _parser(prog: str, *, standalone: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run a qgen worker.")
    p.add_argument("--url", help="backend URL (default: $QGEN_URL, else the project's file)")
    if standalone:
        p.add_argument("--wiring", required=True, help="wiring module(s), comma separated")
        p.add_argument("--services", help="services factory, module:attr")
    p.add_argument("--queues", help="queues to consume, comma separated (default: autorun ones)")
    p.add_argument("--grace", type=float, default=30.0, help="seconds to drain on SIGTERM")
    p.add_argument("--log-level", default=os.environ.get("QGEN_LOG_LEVEL", "INFO"))
    telemetry.add_arguments(p)
    return p


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run the worker on uvloop when it is installed (less event-loop CPU per job), else on
    asyncio's own loop; ``QGEN_UVLOOP=0`` forces asyncio. uvloop is never a dependency."""
    factory: Any = None
    if os.environ.get("QGEN_UVLOOP", "1") != "0":
        # Imported by name: uvloop is optional, so type checkers may not have it.
        with contextlib.suppress(ImportError):
            factory = importlib.import_module("uvloop").new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def main(argv: Sequence[str] | None, *, backend: str, manifest: Path) -> int:
    """Entry point of the generated ``<out>/workers/<backend>.py`` modules."""
    args = _parser(f"worker ({backend})", standalone=False).parse_args(argv)
    telemetry.configure_cli(args)  # text or JSON logs, the metrics port
    try:
        man = load_manifest(manifest)
        root = str(man.project_root)
        if root not in sys.path:
            sys.path.insert(0, root)
        url = args.url or os.environ.get("QGEN_URL") or man.default_url
        if url == man.default_url:
            (man.project_root / ".qgen").mkdir(exist_ok=True)
        _run(
            run_worker(
                url,
                wiring_modules=man.wiring_modules,
                services=man.services,
                queues=_split(args.queues),
                grace=args.grace,
                manifest=man,
                backend=backend,
            )
        )
    except (ConfigError, BackendUnavailable) as exc:
        print(f"qgen worker: {exc}", file=sys.stderr)
        return 2
    return 0


def _standalone(argv: Sequence[str] | None = None) -> int:
    args = _parser("python -m qgen.runtime.worker", standalone=True).parse_args(argv)
    telemetry.configure_cli(args)  # text or JSON logs, the metrics port
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    url = args.url or os.environ.get("QGEN_URL")
    if not url:
        print("qgen worker: no URL: pass --url or set QGEN_URL", file=sys.stderr)
        return 2
    try:
        _run(
            run_worker(
                url,
                wiring_modules=_split(args.wiring) or [],
                services=args.services,
                queues=_split(args.queues),
                grace=args.grace,
            )
        )
    except (ConfigError, BackendUnavailable) as exc:
        print(f"qgen worker: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(_standalone())

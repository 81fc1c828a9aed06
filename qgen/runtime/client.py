"""Base of the generated clients; everything a generated client imports comes from here.

The signatures are the contract between the generated client (qgen/templates) and the
runtime; keep them. Queues and job handles live in ``handles``.

The generated ``client.py`` subclasses :class:`AsyncClientBase` and :class:`ClientBase` with
``queues=QUEUES`` (one :class:`QueueMeta` per queue, from :func:`queue_table`) and
``default_url=DEFAULT_URL``, and adds typed accessors and overloads, e.g.::

    class AsyncQueueClient(AsyncClientBase, queues=QUEUES, default_url=DEFAULT_URL):
        @property
        def payments(self) -> AsyncQueue[models.PaymentsData, models.PaymentsOutput]:
            return self.queue("payments")
        @overload
        async def add(self, queue: Literal["payments"], data: models.PaymentsData,
                      **options: Unpack[JobOptions]) -> AsyncJobHandle[models.PaymentsOutput]: ...

Add options are keyword parameters of the queues and :class:`JobOptions` in the overloads:
``job_id``, ``delay``, ``priority``, ``attempts`` and ``backoff`` on every backend, plus
``connection`` (PostgreSQL: insert inside the caller's transaction) and ``group`` (SQS FIFO
message group). A backend that cannot honour an option refuses it (UnsupportedByBackend,
decided by the capability table); an unknown option name is a ConfigError, also through the
untyped ``client.add(name, data, **options)``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from qgen.runtime.backends.base import Backend, JobInfo, JobStatus
from qgen.runtime.backends.ops import QueueCounts, RedriveReport, WorkerInfo
from qgen.runtime.backends.registry import open_backend, reachable
from qgen.runtime.capabilities import Feature, backend_for_url
from qgen.runtime.client_types import QueueMeta
from qgen.runtime.errors import ConfigError
from qgen.runtime.handles import AsyncJobHandle, AsyncQueue, JobHandle, Queue
from qgen.runtime.job_options import OPTION_NAMES, BatchOptions, JobOptions, check_option_names
from qgen.runtime.jobviews import JobPage, JobView
from qgen.runtime.options import BackoffConfig
from qgen.runtime.payloads import Adapters
from qgen.runtime.queue_ops import backend_for

T = TypeVar("T")

# Everything a generated client needs comes from this module (and pydantic).
__all__ = [
    "AsyncClientBase",
    "AsyncJobHandle",
    "AsyncQueue",
    "BackoffConfig",
    "BatchOptions",
    "ClientBase",
    "JobHandle",
    "JobInfo",
    "JobOptions",
    "JobPage",
    "JobStatus",
    "JobView",
    "Queue",
    "QueueCounts",
    "QueueMeta",
    "RedriveReport",
    "WorkerInfo",
    "queue_table",
]


def queue_table(manifest: Path, types: Mapping[str, tuple[Any, Any]]) -> dict[str, QueueMeta]:
    """One QueueMeta per queue: the generated model types (input, output or None) and each
    queue's config as the build recorded it in ``manifest.json``."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["queues"]
        configs = {name: dict(recorded[name]["config"]) for name in types}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot read the queue configs from {manifest} ({exc!r}); run `qgen build`"
        ) from None
    return {name: QueueMeta(name, inp, out, configs[name]) for name, (inp, out) in types.items()}


def _set_class_table(
    cls: type[AsyncClientBase | ClientBase],
    queues: Mapping[str, QueueMeta] | None,
    default_url: str | None,
) -> None:
    """``class QueueClient(ClientBase, queues=QUEUES, default_url=DEFAULT_URL)``."""
    if queues is not None:
        cls.QUEUES = queues
    if default_url is not None:
        cls.DEFAULT_URL = default_url


def _resolve_url(url: str | None, default: str | None) -> str:
    resolved = url or os.environ.get("QGEN_URL") or default
    if not resolved:
        raise ConfigError("no queue URL: pass one, or set QGEN_URL")
    return resolved


class AsyncClientBase:
    """Connects lazily on first use. URL: the argument, else ``$QGEN_URL``, else the project's
    embedded SQLite file (``DEFAULT_URL``)."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        *,
        queues: Mapping[str, QueueMeta] | None = None,
        default_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        _set_class_table(cls, queues, default_url)

    def __init__(self, url: str | None = None) -> None:
        self._init(_resolve_url(url, self.DEFAULT_URL), self.QUEUES)

    def _init(self, url: str, queues: Mapping[str, QueueMeta]) -> None:
        self.url = url
        self.backend_name = backend_for_url(url)
        self._metas = dict(queues)
        self._backend: Backend | None = None
        self._lock = asyncio.Lock()
        self._adapter_cache: dict[str, Adapters] = {}
        self._queue_cache: dict[str, AsyncQueue[Any, Any, Any]] = {}

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def _meta(self, name: str) -> QueueMeta:
        meta = self._metas.get(name)
        if meta is None:
            known = ", ".join(sorted(self._metas)) or "none"
            raise ConfigError(f"unknown queue {name!r}; known queues: {known}")
        return meta

    def _adapters(self, name: str) -> Adapters:
        adapters = self._adapter_cache.get(name)
        if adapters is None:
            adapters = self._adapter_cache[name] = Adapters(self._meta(name))
        return adapters

    async def _connect(self) -> Backend:
        if self._backend is None:
            async with self._lock:
                if self._backend is None:
                    configs = {q: dict(m.config) for q, m in self._metas.items()}
                    backend = await open_backend(self.url, configs)
                    self._backend = reachable(backend, self.url)
        return self._backend

    def queue(self, name: str) -> AsyncQueue[Any, Any, Any]:
        q = self._queue_cache.get(name)
        if q is None:
            q = self._queue_cache[name] = AsyncQueue(self, self._meta(name))
        return q

    async def workers(self, queue: str | None = None) -> list[WorkerInfo]:
        """The worker processes seen at this URL in the last 30 s (serving ``queue``, or
        all), from their heartbeats."""
        if queue is not None:
            self._meta(queue)
        backend = await backend_for(self, Feature.WORKERS, "listing workers")
        return await backend.workers(queue)

    async def _add(self, queue: str, data: Any, options: Mapping[str, Any]) -> AsyncJobHandle[Any]:
        """``add`` by queue name, as the generated client's overloads call it."""
        check_option_names(options, OPTION_NAMES, "add()")
        return await self.queue(queue).add(data, **options)

    if not TYPE_CHECKING:  # the generated clients declare typed overloads instead

        async def add(self, queue, data, **options):
            return await self._add(queue, data, options)

    async def close(self) -> None:
        async with self._lock:
            backend, self._backend = self._backend, None
            if backend is not None:
                await backend.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Core(AsyncClientBase):
    """The async engine inside a blocking client."""

    def __init__(self, url: str, queues: Mapping[str, QueueMeta]) -> None:
        self._init(url, queues)


class ClientBase:
    """Blocking client: runs the async backend on a private event loop (no thread hop), so it
    must not be called from inside a running event loop; use the async client there."""

    QUEUES: ClassVar[Mapping[str, QueueMeta]] = {}
    DEFAULT_URL: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        *,
        queues: Mapping[str, QueueMeta] | None = None,
        default_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        _set_class_table(cls, queues, default_url)

    def __init__(self, url: str | None = None) -> None:
        self._core = _Core(_resolve_url(url, self.DEFAULT_URL), self.QUEUES)
        self.url = self._core.url
        self.backend_name = self._core.backend_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._run_lock = threading.Lock()
        self._queue_cache: dict[str, Queue[Any, Any, Any]] = {}

    @classmethod
    def from_url(cls, url: str) -> Self:
        return cls(url)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coro.close()
            raise RuntimeError(
                "the blocking qgen client was called inside a running event loop; "
                "use the async client (AsyncQueueClient) there"
            )
        with self._run_lock:
            if self._loop is None or self._loop.is_closed():
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(coro)

    def queue(self, name: str) -> Queue[Any, Any, Any]:
        q = self._queue_cache.get(name)
        if q is None:
            q = self._queue_cache[name] = Queue(self, self._core._meta(name))
        return q

    def workers(self, queue: str | None = None) -> list[WorkerInfo]:
        """The worker processes seen at this URL in the last 30 s (see the async client)."""
        return self._run(self._core.workers(queue))

    def _add(self, queue: str, data: Any, options: Mapping[str, Any]) -> JobHandle[Any]:
        """``add`` by queue name, as the generated client's overloads call it."""
        check_option_names(options, OPTION_NAMES, "add()")
        return self.queue(queue).add(data, **options)

    if not TYPE_CHECKING:  # the generated clients declare typed overloads instead

        def add(self, queue, data, **options):
            return self._add(queue, data, options)

    def close(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return
        try:
            self._run(self._core.close())
        finally:
            with self._run_lock:
                loop, self._loop = self._loop, None
                if loop is not None:
                    loop.run_until_complete(loop.shutdown_asyncgens())
                    loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

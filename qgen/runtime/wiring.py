"""``wire_queue_worker``: binds a job function to a named queue.

Calling it at import time of a wiring module registers the queue in this process. The scanner
reads the same call statically, so arguments must be literals the build can check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

from qgen.runtime.config_keys import normalize_config
from qgen.runtime.errors import ConfigError
from qgen.runtime.names import validate_queue_name
from qgen.runtime.options import BackoffConfig, KeepJobs

__all__ = [
    "BackoffConfig",  # part of QueueWorkerConfig; defined on the client side
    "Middleware",
    "QueueWiring",
    "QueueWorkerConfig",
    "registered",
    "wire_queue_worker",
]

Middleware = Callable[[Any, Any, Callable[[], Awaitable[None]]], Awaitable[None]]


class QueueWorkerConfig(TypedDict, total=False):
    """Config of one queue. Every duration also accepts a ``datetime.timedelta``.

    Which backend honours which key, and each key's default per backend:
    ``qgen.runtime.capabilities`` (and the README's table).
    """

    batch_size: int  # jobs run in parallel by one worker process (default 10)
    prefetch: int  # jobs fetched per round trip (default: batch_size)
    poll_interval: float  # ms between polls of an idle worker that cannot be woken
    visibility_timeout: float  # s: lease of a running job, renewed by heartbeats (default 30)
    lock_duration: float  # ms: BullMQ lock of a running job, renewed while it runs (30000)
    drain_delay: float  # s: long-poll wait of an idle worker (default 5)
    # Finished jobs kept: a count, {"age": s, "count": n}, True (none) or False (all). Unset:
    # completed 1 day and at most 1,000, failed/discarded/cancelled 7 days.
    remove_on_complete: int | bool | KeepJobs
    remove_on_fail: int | bool | KeepJobs
    max_stalled_count: int  # times a job may be recovered from a dead worker (default 1)
    name: str  # worker name in logs and backend tooling
    autorun: bool  # start consuming when the worker starts (default True)
    attempts: int  # total tries, the first included (default 3)
    backoff: BackoffConfig  # delay between tries (default exponential, 1000 ms)
    dead_letter: str  # queue receiving a copy of each job that failed for good
    timeout: float  # s: an attempt running longer fails


@dataclass(frozen=True, slots=True)
class QueueWiring:
    queue: str
    func: Callable[..., Any]
    config: dict[str, Any]  # normalized, without defaults (qgen.runtime.settings adds them)
    middleware: tuple[Middleware, ...]
    tags: tuple[str, ...]


_REGISTRY: dict[str, QueueWiring] = {}


def wire_queue_worker(
    *,
    queue: str,
    func: Callable[..., Any],
    config: QueueWorkerConfig | dict[str, Any] | None = None,
    middleware: Sequence[Middleware] | None = None,
    tags: Sequence[str] | None = None,
) -> QueueWiring:
    """Bind ``func`` (a ``@sessionless_func``) to ``queue``. ``queue`` must be a string literal
    and ``config`` a literal dict or ``QueueWorkerConfig(...)`` so that ``qgen build`` can read
    them. Raises ConfigError at once on a bad name or config."""
    validate_queue_name(queue)
    if not callable(func):
        raise ConfigError(f"queue {queue!r}: func must be a function, not {func!r}")
    wiring = QueueWiring(
        queue=queue,
        func=func,
        config=normalize_config(queue, dict(config or {})),
        middleware=tuple(middleware or ()),
        tags=tuple(tags or ()),
    )
    old = _REGISTRY.get(queue)
    if old is not None and _qualname(old.func) != _qualname(func):
        raise ConfigError(
            f"queue {queue!r} is wired twice: to {_qualname(old.func)} and {_qualname(func)}"
        )
    _REGISTRY[queue] = wiring  # re-importing the same wiring module replaces it
    return wiring


def registered() -> dict[str, QueueWiring]:
    return dict(_REGISTRY)


def _qualname(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"

"""qgen: typed background queues. The public API; everything else is internal.

Each name is imported on first use (PEP 562 ``__getattr__``), so the ``qgen`` command starts
without loading what it does not need (a warm ``qgen build`` never touches pydantic or asyncio);
``from qgen import sessionless_func`` works as usual and type checkers read the imports below.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qgen.runtime.backends.base import JobInfo, JobStatus
    from qgen.runtime.errors import (
        BackendUnavailable,
        ConfigError,
        JobFailedError,
        JobNotFound,
        JobTimeout,
        PayloadTooLarge,
        QgenError,
        QueueJobDiscarded,
        QueueJobFailed,
        UnsupportedByBackend,
        ValidationFailed,
    )
    from qgen.runtime.functions import sessionless_func
    from qgen.runtime.interaction import (
        Interaction,
        QueueInteraction,
        SyncInteraction,
        SyncQueueInteraction,
    )
    from qgen.runtime.options import BackoffConfig
    from qgen.runtime.schedules import wire_schedule
    from qgen.runtime.wiring import QueueWorkerConfig, wire_queue_worker

__version__ = "0.1.0"

# name -> the module that defines it (the imports above, for the run time)
_HOMES = {
    "JobInfo": "qgen.runtime.backends.base",
    "JobStatus": "qgen.runtime.backends.base",
    **dict.fromkeys(
        (
            "BackendUnavailable", "ConfigError", "JobFailedError", "JobNotFound", "JobTimeout",
            "PayloadTooLarge",
            "QgenError", "QueueJobDiscarded", "QueueJobFailed", "UnsupportedByBackend",
            "ValidationFailed",
        ),
        "qgen.runtime.errors",
    ),
    "sessionless_func": "qgen.runtime.functions",
    **dict.fromkeys(
        ("Interaction", "QueueInteraction", "SyncInteraction", "SyncQueueInteraction"),
        "qgen.runtime.interaction",
    ),
    "BackoffConfig": "qgen.runtime.options",
    "QueueWorkerConfig": "qgen.runtime.wiring",
    "wire_queue_worker": "qgen.runtime.wiring",
    "wire_schedule": "qgen.runtime.schedules",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'qgen' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "BackendUnavailable",
    "BackoffConfig",
    "ConfigError",
    "Interaction",
    "JobFailedError",
    "JobInfo",
    "JobNotFound",
    "JobStatus",
    "JobTimeout",
    "PayloadTooLarge",
    "QgenError",
    "QueueInteraction",
    "QueueJobDiscarded",
    "QueueJobFailed",
    "QueueWorkerConfig",
    "SyncInteraction",
    "SyncQueueInteraction",
    "UnsupportedByBackend",
    "ValidationFailed",
    "__version__",
    "sessionless_func",
    "wire_queue_worker",
    "wire_schedule",
]

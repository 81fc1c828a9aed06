"""qgen: typed background queues. The public API; everything else is internal."""

from qgen.runtime.backends.base import JobInfo, JobStatus
from qgen.runtime.errors import (
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

__all__ = [
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

"""The one table of what each backend supports, and the default of every config key.

For every config key of ``wire_queue_worker`` and every backend: ``native`` (mapped to the
backend's own option, named in the note), ``emulated`` (done by the qgen runtime) or
``unsupported`` (ignored, with the reason), and the value the backend uses when a queue's config
leaves the key out. Features (results, progress, ...) are listed the same way. The build's
QG301/QG302 warnings, the typed settings (``qgen.runtime.settings``), the worker's start-up log,
the contract suite's skips and the README's table all read this module and nothing else.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from qgen.runtime.capabilities_ops import OPERATOR_FEATURES
from qgen.runtime.capabilities_schedules import SCHEDULE_FEATURES
from qgen.runtime.capability_cells import E as E
from qgen.runtime.capability_cells import Level as Level
from qgen.runtime.capability_cells import N as N
from qgen.runtime.capability_cells import SameAs as SameAs
from qgen.runtime.capability_cells import Support as Support
from qgen.runtime.capability_cells import U as U
from qgen.runtime.config_keys import CONFIG_KEYS

BACKENDS: tuple[str, ...] = ("sqlite", "redis", "postgres", "sqs")

# URL scheme -> backend name, and backend name -> "module:class" (imported lazily, so a client
# for one backend never needs the libraries of the others).
SCHEMES: dict[str, str] = {
    "sqlite": "sqlite",
    "redis": "redis",
    "rediss": "redis",
    "redis+cluster": "redis",
    "rediss+cluster": "redis",
    "postgresql": "postgres",
    "postgres": "postgres",
    "sqs": "sqs",
}
IMPLEMENTATIONS: dict[str, str] = {
    "sqlite": "qgen.runtime.backends.sqlite:SqliteBackend",
    "redis": "qgen.runtime.backends.redis:RedisBackend",
    "postgres": "qgen.runtime.backends.postgres:PostgresBackend",
    "sqs": "qgen.runtime.backends.sqs:SqsBackend",
}
EXTRAS: dict[str, str] = {"sqlite": "", "redis": "redis", "postgres": "postgres", "sqs": "sqs"}


BATCH = SameAs("batch_size")
BACKOFF = {"type": "exponential", "delay": 1000}
# Retention when a queue sets none (issue 14): storage never grows without bound by default.
# In the spirit of pg-boss: completed jobs kept 1 day and at most 1,000 per queue; failed,
# discarded and cancelled jobs kept 7 days.
KEEP_COMPLETED = {"age": 86_400, "count": 1_000}
KEEP_FAILED = {"age": 7 * 86_400}


CONFIG_SUPPORT: dict[str, dict[str, Support]] = {
    "batch_size": {
        "sqlite": N("jobs run concurrently per worker process", 10),
        "redis": N("Worker concurrency: that many slots, each with its own lock token", 10),
        "postgres": N("jobs run concurrently per worker process", 10),
        "sqs": N("jobs run concurrently per worker process", 10),
    },
    "prefetch": {
        "sqlite": N(
            "jobs leased ahead of the batch_size running ones, in the same transaction", BATCH
        ),
        "redis": U("BullMQ fetches one job per slot; the next comes with the last completion"),
        "postgres": N(
            "jobs leased per round trip (SKIP LOCKED ... LIMIT prefetch); short jobs are leased "
            "up to prefetch ahead of the running ones",
            BATCH,
        ),
        "sqs": N("MaxNumberOfMessages (at most 10)", BATCH),
    },
    "poll_interval": {
        "sqlite": N("idle poll period", 100),
        "redis": U("BullMQ workers block on Redis and are pushed new jobs; they never poll"),
        "postgres": N("fallback poll period when no NOTIFY arrives", 2000),
        "sqs": U("SQS workers long-poll; see drain_delay"),
    },
    "visibility_timeout": {
        "sqlite": N("lease of a running job, renewed by heartbeats", 30),
        "redis": U("BullMQ uses lock_duration for the same purpose"),
        "postgres": N("lease of a running job, renewed by heartbeats", 30),
        "sqs": N("VisibilityTimeout per receive, extended by ChangeMessageVisibility", 30),
    },
    "lock_duration": {
        "sqlite": U("SQLite leases use visibility_timeout"),
        "redis": N(
            "lockDuration, renewed at half of it; stalled checks every lock_duration", 30_000
        ),
        "postgres": U("PostgreSQL leases use visibility_timeout"),
        "sqs": U("SQS uses visibility_timeout"),
    },
    "drain_delay": {
        "sqlite": U("SQLite workers poll; see poll_interval"),
        "redis": N("drainDelay: how long an idle worker blocks on the queue marker", 5),
        "postgres": U("PostgreSQL workers wait on LISTEN; see poll_interval"),
        "sqs": N("WaitTimeSeconds of ReceiveMessage (at most 20)", 5),
    },
    "remove_on_complete": {
        "sqlite": N(
            "completed rows kept per queue: at most count, none older than age",
            KEEP_COMPLETED,
        ),
        "redis": N(
            "job option removeOnComplete as BullMQ's KeepJobs {age, count} (set on add)",
            KEEP_COMPLETED,
        ),
        "postgres": N(
            "completed rows kept per queue: at most count, none older than age (True: deleted "
            "as they complete)",
            KEEP_COMPLETED,
        ),
        "sqs": U("SQS deletes a message once it is processed; nothing is kept"),
    },
    "remove_on_fail": {
        "sqlite": N("failed, discarded and cancelled rows kept per queue", KEEP_FAILED),
        "redis": N(
            "job option removeOnFail as BullMQ's KeepJobs {age, count} (set on add)", KEEP_FAILED
        ),
        "postgres": N("failed, discarded and cancelled rows kept per queue", KEEP_FAILED),
        "sqs": U("SQS keeps failed messages only in the dead-letter queue"),
    },
    "max_stalled_count": {
        "sqlite": N("lease expiries before the job fails", 1),
        "redis": N("maxStalledCount of BullMQ's stalled-job check", 1),
        "postgres": N("lease expiries before the job fails (a stall uses no attempt)", 1),
        "sqs": U(
            "a dead worker's job returns after its visibility timeout and uses one of its "
            "attempts (ApproximateReceiveCount); there is no separate stall count"
        ),
    },
    "name": {
        "sqlite": N("worker name in logs and the job row"),
        "redis": N("worker name, stored as BullMQ's processedBy on each job"),
        "postgres": N("worker name in logs and the job row"),
        "sqs": N("worker name in logs"),
    },
    "autorun": {
        "sqlite": N("start consuming at start-up", True),
        "redis": N("Worker autorun", True),
        "postgres": N("start consuming at start-up", True),
        "sqs": N("start consuming at start-up", True),
    },
    "attempts": {
        "sqlite": N("attempts column", 3),
        "redis": N("job option attempts (set on add; jobs added without it use the queue's)", 3),
        "postgres": N("retry_limit (attempts - 1) and retry_count columns", 3),
        "sqs": N("ApproximateReceiveCount is the attempt; redrive maxReceiveCount", 3),
    },
    "backoff": {
        "sqlite": N("start_after of the retried job; jitter and max_delay included", BACKOFF),
        "redis": N(
            "job option backoff; each retry's delay (jitter, max_delay) set by the runtime", BACKOFF
        ),
        "postgres": N("start_after of the retried job; the job's own backoff in its row", BACKOFF),
        "sqs": E(
            "ChangeMessageVisibility on the failed message (whole seconds, at most 12 h)", BACKOFF
        ),
    },
    "dead_letter": {
        "sqlite": N("copy of the failed job added to the named queue"),
        "redis": E("the runtime adds a copy of the failed job to the named queue"),
        "postgres": N("dead_letter column; copied in the final failure's transaction"),
        "sqs": N("copy sent by the worker on final failure; RedrivePolicy for dead workers"),
    },
    "timeout": {
        "sqlite": E("asyncio timeout around the attempt"),
        "redis": E("asyncio timeout around the attempt"),
        "postgres": E("asyncio timeout around the attempt"),
        "sqs": E("asyncio timeout around the attempt"),
    },
}


class Feature(enum.StrEnum):
    RESULTS = "results"  # job results are stored and readable with result()
    PROGRESS = "progress"  # update_progress is stored and readable with progress()
    STATUS = "status"  # status() reports every state of a job
    PRIORITY = "priority"  # the priority add option orders jobs
    DELAY = "delay"  # the delay add option
    JOB_ID = "job_id"  # adding the same job_id twice makes one job
    DISCARD = "discard"  # discard() ends a job without retry and is reported as discarded
    PUSH_WAIT = "push_wait"  # result(timeout) waits on a push, not a poll
    TRANSACTIONAL_ENQUEUE = "transactional_enqueue"  # add(..., connection=...) joins a transaction
    SUBSECOND_DELAY = "subsecond_delay"  # delays and backoffs below one second are honoured
    MESSAGE_GROUP = "message_group"  # add(..., group=...) orders jobs within a named group
    # The operator API (issue 14): client methods, the qgen CLI and the dashboard.
    COUNTS = "counts"  # counts(): jobs per status and the paused state
    LIST_JOBS = "list_jobs"  # jobs(status, limit, cursor): typed pages, newest first
    CANCEL = "cancel"  # handle.cancel(): waiting jobs never start, running ones are stopped
    # a running job's cancel reaches its worker within about a second, not at its next renewal
    CANCEL_PUSH = "cancel_push"
    RETRY = "retry"  # handle.retry(), retry_failed(): a failed job runs again
    PAUSE = "pause"  # pause(), resume(), is_paused(): every worker stops taking new jobs
    CLEAN = "clean"  # clean(status, older_than, keep): delete finished jobs
    REDRIVE = "redrive"  # redrive(): dead letters back to their queue, validated first
    WORKERS = "workers"  # workers(): the worker processes serving each queue, by heartbeat
    RETENTION_AGE = "retention_age"  # remove_on_*: {"age": s} removes finished jobs by age
    SCHEDULES = "schedules"  # wire_schedule: each tick fires one job across worker processes


FEATURES: dict[Feature, dict[str, Support]] = {
    Feature.RESULTS: {
        "sqlite": N("result column"),
        "redis": N("returnvalue"),
        "postgres": N("output column"),
        "sqs": U("SQS deletes a processed message; there is nowhere to keep a result"),
    },
    Feature.PROGRESS: {
        "sqlite": N("progress column"),
        "redis": N("job progress"),
        "postgres": N("progress column"),
        "sqs": U("nothing is stored about a message in flight"),
    },
    Feature.STATUS: {
        "sqlite": N("state column"),
        "redis": N("job state"),
        "postgres": N("state column"),
        "sqs": U("SQS cannot look up a message by id; status is unknown after sending"),
    },
    Feature.PRIORITY: {
        "sqlite": N("ORDER BY priority DESC"),
        "redis": N("BullMQ priority 2**20 - priority; Node jobs without priority run first"),
        "postgres": N("ORDER BY priority DESC"),
        "sqs": U("SQS queues have no priorities; use one queue per priority"),
    },
    Feature.DELAY: {
        "sqlite": N("start_after"),
        "redis": N("job option delay"),
        "postgres": N("start_after"),
        "sqs": N("DelaySeconds (whole seconds, at most 900; not per message on FIFO queues)"),
    },
    Feature.JOB_ID: {
        "sqlite": N("unique (queue, id)"),
        "redis": N("BullMQ jobId"),
        "postgres": N("unique (queue, id)"),
        "sqs": U("only FIFO queues deduplicate (MessageDeduplicationId, for 5 minutes)"),
    },
    Feature.DISCARD: {
        "sqlite": N("discarded state"),
        "redis": E("failed without retry, marked discarded in the job (Node sees failed)"),
        "postgres": N("cancelled state"),
        "sqs": E("message deleted without retry; no status reports it"),
    },
    Feature.PUSH_WAIT: {
        "sqlite": U("no notifications across processes; result() polls the file"),
        "redis": N("the queue's event stream, as QueueEvents reads it"),
        "postgres": N("LISTEN/NOTIFY"),
        "sqs": U("no results"),
    },
    Feature.TRANSACTIONAL_ENQUEUE: {
        "sqlite": U("each add is its own transaction on the queue file"),
        "redis": U("Redis has no transactions shared with your database"),
        "postgres": N("INSERT on the caller's psycopg connection"),
        "sqs": U("SQS sends are not transactional"),
    },
    Feature.SUBSECOND_DELAY: {
        "sqlite": N("start_after in ms"),
        "redis": N("ms timestamps; the qgen worker wakes on a timer for the next due job"),
        "postgres": N("start_after in ms"),
        "sqs": U("DelaySeconds and visibility are whole seconds"),
    },
    Feature.MESSAGE_GROUP: {
        "sqlite": U("no message groups; add(group=...) is refused"),
        "redis": U("no message groups; add(group=...) is refused"),
        "postgres": U("no message groups; add(group=...) is refused"),
        "sqs": N("MessageGroupId on FIFO queues (one default group when not given)"),
    },
    **{Feature(name): row for name, row in OPERATOR_FEATURES.items()},
    **{Feature(name): row for name, row in SCHEDULE_FEATURES.items()},
}


def config_support(key: str, backend: str) -> Support:
    return CONFIG_SUPPORT[key][backend]


def feature(feat: Feature, backend: str) -> Support:
    return FEATURES[feat][backend]


def supports(feat: Feature, backend: str) -> bool:
    return FEATURES[feat][backend].supported


def default(key: str, backend: str) -> Any:
    """The value ``backend`` uses for ``key`` when a queue's config leaves it out (a
    :class:`SameAs` names the key whose value it takes). For a key the backend ignores: the
    first supporting backend's default, so typed settings are complete."""
    row = CONFIG_SUPPORT[key]
    cell = row[backend]
    if cell.supported:
        return cell.default
    return next((c.default for c in row.values() if c.supported), None)


def unsupported_keys(config: dict[str, object], backend: str) -> list[tuple[str, str]]:
    """(key, reason) for each key of ``config`` the backend ignores, sorted by key."""
    return [
        (k, CONFIG_SUPPORT[k][backend].note)
        for k in sorted(config)
        if k in CONFIG_SUPPORT and not CONFIG_SUPPORT[k][backend].supported
    ]


def backend_for_url(url: str) -> str:
    scheme = url.split(":", 1)[0].lower()
    if scheme not in SCHEMES:
        from qgen.runtime.errors import ConfigError
        from qgen.runtime.urls import mask_url

        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise ConfigError(f"unknown backend URL scheme in {mask_url(url)!r}; known: {known}")
    return SCHEMES[scheme]


def describe_value(key: str, value: Any) -> str:
    """A config value as the README and the worker's start-up log show it, with its unit."""
    if isinstance(value, SameAs):
        return f"= {value.key}"
    if key == "backoff" and isinstance(value, Mapping):
        parts = [str(value.get("type", "exponential")), f"{value.get('delay', 1000):g} ms"]
        if "max_delay" in value:
            parts.append(f"max {value['max_delay']:g} ms")
        if "jitter" in value:
            parts.append(f"jitter {value['jitter']:g}")
        return ", ".join(parts)
    unit = CONFIG_KEYS[key].unit
    if unit == "keep" and isinstance(value, Mapping):
        parts = []
        if "age" in value:
            parts.append(f"{_duration(value['age'])}")
        if "count" in value:
            parts.append(f"at most {value['count']:,}")
        return ", ".join(parts)
    if unit in ("ms", "s") and isinstance(value, int | float):
        return f"{value:g} {unit}"
    return str(value)


def _duration(seconds: float) -> str:
    """Seconds as people say them: "7 days", "1 day", "90 s"."""
    for size, name in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {name}" + ("s" if n != 1 else "")
    return f"{seconds:g} s"


_MARK = {Level.NATIVE: "yes", Level.EMULATED: "emulated", Level.UNSUPPORTED: "no"}


def _config_cell(key: str, support: Support) -> str:
    text = f"{_MARK[support.level]}: {support.note}"
    if support.supported and support.default is not None:
        text += f" (default {describe_value(key, support.default)})"
    return text


def markdown_table() -> str:
    """The README's capability table."""
    head = "| | " + " | ".join(BACKENDS) + " |\n|---|" + "---|" * len(BACKENDS) + "\n"
    mark = _MARK
    rows = []
    for key in CONFIG_KEYS:
        cells = [_config_cell(key, CONFIG_SUPPORT[key][b]) for b in BACKENDS]
        rows.append(f"| `{key}` | " + " | ".join(cells) + " |")
    for feat in Feature:
        cells = [f"{mark[s.level]}: {s.note}" for s in (FEATURES[feat][b] for b in BACKENDS)]
        rows.append(f"| {feat.value} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows) + "\n"


assert set(CONFIG_SUPPORT) == set(CONFIG_KEYS), "every config key needs a row"
assert all(set(row) == set(BACKENDS) for row in CONFIG_SUPPORT.values())
assert all(set(row) == set(BACKENDS) for row in FEATURES.values())

"""The capability table's rows for schedules (issue 16), by feature name; the table itself
(``capabilities.FEATURES``) includes them. See docs/schedules.md."""

from __future__ import annotations

from qgen.runtime.capability_cells import E, N, Support

SCHEDULE_FEATURES: dict[str, dict[str, Support]] = {
    "schedules": {
        "sqlite": N(
            "every worker fires each tick with the job id sched-<name>-<tick ms>; the unique "
            "(queue, id) keeps one job"
        ),
        "redis": N(
            "every worker fires each tick with the BullMQ jobId sched-<name>-<tick ms>; Redis "
            "keeps one job (stored as plain jobs, not as BullMQ job schedulers)"
        ),
        "postgres": N(
            "every worker fires each tick with the job id sched-<name>-<tick ms>; the unique "
            "(queue, id) keeps one job"
        ),
        "sqs": E(
            "FIFO queues: once per tick (MessageDeduplicationId = the tick's job id, for 5 "
            "minutes); standard queues: every worker process serving the queue sends each tick "
            "(at least once, up to one job per process). qgen setup creates no EventBridge "
            "Scheduler definitions: schedules fire from the workers"
        ),
    },
}

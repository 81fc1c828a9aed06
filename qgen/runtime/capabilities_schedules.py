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
            "stored as BullMQ job schedulers (the records Node's upsertJobScheduler writes; "
            "Node BullMQ and Bull Board see them); each iteration is made once by BullMQ's "
            "updateJobScheduler, whichever qgen or Node worker calls it first"
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

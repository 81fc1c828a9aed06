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
            "workers claim each tick in one FIFO queue (<prefix>qgen-schedule-ticks.fifo, "
            "deduplicated by the tick's id); the worker that receives the claim sends the job, "
            "so standard queues get one job per tick too (at least once if that worker dies "
            "in between). qgen setup creates no EventBridge Scheduler definitions: schedules "
            "fire from the workers"
        ),
    },
}

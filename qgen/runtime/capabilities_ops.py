"""The capability table's rows for the operator API (issue 14), by feature name; the table
itself (``capabilities.FEATURES``) includes them. Each cell says what the backend does (or
will do) for that operation, or why it cannot: the CLI prints that reason."""

from __future__ import annotations

from qgen.runtime.capability_cells import E, N, Support, U

OPERATOR_FEATURES: dict[str, dict[str, Support]] = {
    "counts": {
        "sqlite": N("counts over the partial indexes of the queue's jobs, per status"),
        "redis": N(
            "BullMQ's getCounts over its status lists and sorted sets; discarded and "
            "cancelled are counted inside BullMQ's failed set"
        ),
        "postgres": N("one grouped count over the jobs of the queue"),
        "sqs": E(
            "approximate: ApproximateNumberOfMessages (waiting), ...NotVisible (active), "
            "...Delayed, the dead-letter queue's depth as failed; finished jobs are not kept, "
            "so they are unknown"
        ),
    },
    "list_jobs": {
        "sqlite": N("rows by state, newest first, keyset paging"),
        "redis": N("BullMQ's status lists and sorted sets, Node's jobs included, keyset paging"),
        "postgres": N("rows by state, newest first, keyset paging"),
        "sqs": U(
            "SQS cannot list messages or look one up by id; receiving them to read them would "
            "hide them from the workers"
        ),
    },
    "cancel": {
        "sqlite": N(
            "waiting/delayed: state cancelled in one statement; active: a cancel request "
            "the worker reads with its poll (and when it renews the lease)"
        ),
        "redis": E(
            "waiting/delayed: moved to BullMQ's failed set by one script, marked cancelled; "
            "active: a cancel request pushed to its qgen worker (and read when it extends the "
            "lock; Node sees a failed job, reason 'Cancelled: ...')"
        ),
        "postgres": N(
            "pg-boss cancel: state cancelled; active: a cancel request the worker hears at "
            "once by NOTIFY (and reads when it renews the lease)"
        ),
        "sqs": U("SQS cannot reach a sent message by id, only through a receipt while it runs"),
    },
    "cancel_push": {
        "sqlite": E(
            "no pushes across processes: each worker's one poll read (every poll_interval) "
            "also answers which of its running jobs an operator asked to cancel"
        ),
        "redis": E(
            "the cancel script adds the job id to the queue's qgen#cancel-requests stream, "
            "which the worker process's one event reader (XREAD) follows"
        ),
        "postgres": N("a NOTIFY on the new-job channel, heard by the worker's LISTEN connection"),
        "sqs": U("no cancel of a sent message (see cancel), and SQS cannot push to a worker"),
    },
    "retry": {
        "sqlite": N("failed/discarded/cancelled row back to waiting, attempts reset"),
        "redis": N("BullMQ's reprocessJob (failed job back to wait, attempts reset)"),
        "postgres": N("pg-boss retry: state back to created, retry_count reset"),
        "sqs": U("a failed message exists only in the dead-letter queue; use redrive"),
    },
    "pause": {
        "sqlite": N(
            "a paused flag per queue, read by each worker's one poll read and checked by every "
            "lease"
        ),
        "redis": N("BullMQ's own paused state: Node workers and Bull Board see the same pause"),
        "postgres": N("a paused flag per queue read by every fetch; resume wakes by NOTIFY"),
        "sqs": E(
            "a queue tag every worker reads every pause_check seconds (URL parameter, "
            "default 10; AWS limits tagging requests per account)"
        ),
    },
    "clean": {
        "sqlite": N("DELETE of finished rows by state, age and count"),
        "redis": N("BullMQ's cleanJobsInSet by age, or its removeJob per job to keep a count"),
        "postgres": N("DELETE of finished rows by state, age and count"),
        "sqs": U("SQS keeps no finished messages; there is nothing to clean"),
    },
    "redrive": {
        "sqlite": N("dead-letter copies moved back, one transaction per job"),
        "redis": E(
            "the failed original reprocessed with the copy's data (one transaction), then "
            "the copy removed: a crash between the two leaves the copy behind"
        ),
        "postgres": N("dead-letter copies moved back, one transaction per job"),
        "sqs": E(
            "received from the dead-letter queue, validated, sent to the queue, then deleted "
            "(at least once: a crash between send and delete sends it twice)"
        ),
    },
    "workers": {
        "sqlite": N("a workers table; each worker beats every 10 s"),
        "redis": N(
            "a heartbeat hash per prefix, and BullMQ's registry of named connections (CLIENT "
            "LIST): Node's getWorkers lists qgen workers and qgen lists Node's"
        ),
        "postgres": N("a workers table; each worker beats every 10 s"),
        "sqs": U(
            "SQS has nowhere shared to keep a heartbeat that clients can read without consuming it"
        ),
    },
    "retention_age": {
        "sqlite": N(
            "finished rows past the age or count deleted in the rounds that record outcomes"
        ),
        "redis": N("KeepJobs age, applied by BullMQ when a job finishes"),
        "postgres": N("finished rows older than the age deleted as outcomes are recorded"),
        "sqs": U("SQS keeps no finished messages"),
    },
}

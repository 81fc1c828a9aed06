"""Peer runners and backend targets for ``bench/throughput.py``.

A peer is a module ``bench/peers/<backend>_<peer>.py`` exposing ``run(url: str, jobs: int) ->
dict`` with keys ``name``, ``single_adds_per_s``, ``bulk_adds_per_s``, ``processed_per_s`` (None
where the peer has no such thing) plus any extra figures. List it in :data:`PEERS` under its
backend; ``throughput.py <backend> --peers`` runs every peer listed there, each on a fresh URL
from the backend's target.

Adding a backend to the harness = one :class:`Target` in :data:`TARGETS`: its default URL, how to
give each measurement a fresh isolated place (and clean it up), how to set the durability option
(if any), and (optional) how to count completed jobs of a queue, which the harness uses to see the
last job done; without it, the worker's own meter (a line written by the bench app's job once the
process has run all jobs) marks the end, which works with one worker process only. A store that
cannot count completed jobs but can tell "empty" (SQS) asks for both: the meter's mark and
``all_done`` (``needs_mark``); a target may also start its own server for the run (``server``).
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

PEERS: dict[str, list[str]] = {
    "sqlite": ["sqlite_huey"],
    "redis": ["redis_bullmq", "redis_dramatiq", "redis_saq"],
    "postgres": ["pg_rerun", "pg_pgqueuer", "pg_procrastinate"],
    "sqs": ["sqs_boto3"],
}


@dataclass(frozen=True)
class Target:
    default_url: str  # "{tmp}" is replaced by a temporary directory of the run
    # (url, tmp dir, option "synchronous" or None) -> a fresh URL, cleaned up on exit
    fresh: Callable[[str, Path, str | None], contextlib.AbstractContextManager[str]]
    # (url, queue) -> completed jobs of the queue, or None when the backend cannot tell
    completed: Callable[[str, str], int | None] | None = None
    # or (url, queue, jobs) -> True once ``jobs`` jobs of the queue completed (used first when
    # given; for stores where a count is dear, as the harness asks every few ms)
    all_done: Callable[[str, str, int], bool] | None = None
    # True: the last job is done once the bench app's meter wrote its ``end`` mark (the worker
    # ran all jobs) AND ``all_done`` holds; for stores that cannot count completed jobs (SQS)
    needs_mark: bool = False
    # Why this backend can time one worker process only (None: 1 or 2 both work)
    one_worker: str | None = None
    # () -> a server started for the run when no ``--url`` is given (yields the run's URL in
    # place of ``default_url``, stopped on exit)
    server: Callable[[], contextlib.AbstractContextManager[str]] | None = None


@contextlib.contextmanager
def _sqlite_fresh(url: str, tmp: Path, synchronous: str | None) -> Iterator[str]:
    base, _, query = url.partition("?")
    params = dict(parse_qsl(query))
    if synchronous:
        params["synchronous"] = synchronous
    folder = Path(base[len("sqlite:///") :]).parent
    path = (folder if str(folder) not in ("", ".") else tmp) / f"bench-{uuid.uuid4().hex[:8]}.db"
    yield f"sqlite:///{path.resolve()}" + (f"?{urlencode(params)}" if params else "")
    for suffix in ("", "-wal", "-shm", ".mark"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _sqlite_completed(url: str, queue: str) -> int | None:
    path = url[len("sqlite:///") :].partition("?")[0]
    conn = sqlite3.connect(path, timeout=10)
    try:
        row = conn.execute(
            "SELECT count(*) FROM qgen_jobs WHERE queue = ? AND state = 'completed'", (queue,)
        ).fetchone()
        return int(row[0])
    except sqlite3.OperationalError:  # no table yet
        return 0
    finally:
        conn.close()


def _sqlite_all_done(url: str, queue: str, jobs: int) -> bool:
    """Nothing waiting, delayed or running (three index probes). The completed rows are not
    counted: retention (by default at most 1,000 completed per queue) deletes most of them."""
    path = url[len("sqlite:///") :].partition("?")[0]
    conn = sqlite3.connect(path, timeout=10)
    try:
        busy = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM qgen_jobs INDEXED BY qgen_jobs_ready"
            " WHERE queue = ?1 AND state = 'waiting') OR EXISTS (SELECT 1 FROM qgen_jobs"
            " INDEXED BY qgen_jobs_leases WHERE queue = ?1 AND state = 'active')"
            " OR EXISTS (SELECT 1 FROM qgen_jobs INDEXED BY qgen_jobs_delayed"
            " WHERE queue = ?1 AND state = 'delayed')",
            (queue,),
        ).fetchone()[0]
        if busy:
            return False
    except sqlite3.OperationalError:  # no table yet
        return False
    finally:
        conn.close()
    return True


from bench.peers import pg_target as _pg  # noqa: E402
from bench.peers import redis_target as _redis  # noqa: E402
from bench.peers import sqs_target as _sqs  # noqa: E402

TARGETS: dict[str, Target] = {
    "sqlite": Target("sqlite:///{tmp}/jobs.db", _sqlite_fresh, _sqlite_completed, _sqlite_all_done),
    "redis": Target("redis://127.0.0.1:6379/0", _redis.fresh, _redis.completed),
    "postgres": Target(_pg.DEFAULT_URL, _pg.fresh, all_done=_pg.all_done),
    "sqs": Target(
        _sqs.DEFAULT_URL,
        _sqs.fresh,
        all_done=_sqs.all_done,
        needs_mark=True,
        one_worker=_sqs.ONE_WORKER,
        server=_sqs.server,
    ),
}

"""huey 3.5 with its SQLite storage, the server-less queue a Python user would compare with.

``run(url, jobs)``: ``url`` is ``sqlite:///<file>?synchronous=full|normal`` (a fresh file). Single
adds: ``jobs`` calls of the task in this process. Processed: one consumer process with 10
threads (``huey_consumer -w 10 -k thread``), the same no-op job and meter as qgen's bench app,
from consumer start to the last job run. huey has no bulk add.

Durability: SqliteHuey leaves SQLite's ``synchronous`` alone unless told (``fsync=True`` gives
FULL, ``fsync=False`` gives OFF), and a WAL file's default is FULL. NORMAL is set here by a
storage subclass, so both runs keep WAL and differ only in ``synchronous``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from huey import Huey
from huey.storage import SqliteStorage

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
DATA = {"order_id": "o-1", "amount": 500, "currency": "EUR"}


def parse(url: str) -> tuple[str, str]:
    rest = url[len("sqlite:///") :]
    path, _, query = rest.partition("?")
    sync = dict(parse_qsl(query)).get("synchronous", "full").upper()
    return path, sync


class _Storage(SqliteStorage):  # type: ignore[misc]
    synchronous = "FULL"

    def _create_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection = super()._create_connection()
        conn.execute(f"pragma synchronous={self.synchronous}")
        return conn


def make_huey(url: str) -> Huey:
    path, sync = parse(url)
    storage = type("Storage", (_Storage,), {"synchronous": sync})
    return Huey("bench", storage_class=storage, filename=path, results=False)


def build(url: str) -> tuple[Huey, Any]:
    huey = make_huey(url)
    meter: list[Any] = []

    @huey.task()  # type: ignore[misc]
    def noop(order: dict[str, Any]) -> None:
        meter[0].tick()

    return huey, (noop, meter)


def consume(url: str) -> None:
    """In the consumer process: the same meter as qgen's bench app (start / end lines)."""
    sys.path.insert(0, str(BENCH / "app"))
    from benchapp.services import Meter

    huey, (_, meter) = build(url)
    meter.append(Meter())
    consumer = huey.create_consumer(workers=10, worker_type="thread", periodic=False)
    consumer.run()


def run(url: str, jobs: int) -> dict[str, Any]:
    path, sync = parse(url)
    huey, (noop, _) = build(url)
    noop(DATA)  # open the file and create the tables outside the timing
    huey.flush()
    t0 = time.perf_counter()
    for _ in range(jobs):
        noop(DATA)
    single = jobs / (time.perf_counter() - t0)

    mark = Path(path + ".mark")
    env = {**os.environ, "QGEN_BENCH_MARK": str(mark), "QGEN_BENCH_JOBS": str(jobs)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(BENCH / "app")])
    code = "import sys; from bench.peers.sqlite_huey import consume; consume(sys.argv[1])"
    proc = subprocess.Popen([sys.executable, "-c", code, url], env=env, cwd=ROOT)
    try:
        start, end = wait_marks(mark, proc)
    finally:
        proc.send_signal(signal.SIGINT)  # huey's graceful stop
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "name": f"huey {huey_version()} SqliteHuey (10 threads)",
        "single_adds_per_s": single,
        "bulk_adds_per_s": None,
        "processed_per_s": jobs / (end - start),
        "synchronous": sync,
    }


def wait_marks(
    mark: Path, proc: subprocess.Popen[bytes], timeout: float = 600
) -> tuple[float, float]:
    deadline = time.monotonic() + timeout
    while True:
        text = mark.read_text() if mark.exists() else ""
        starts = [float(ln.split()[2]) for ln in text.splitlines() if ln.startswith("start")]
        ends = [float(ln.split()[2]) for ln in text.splitlines() if ln.startswith("end")]
        if starts and ends:
            return min(starts), max(ends)
        if proc.poll() is not None:
            raise RuntimeError(f"the huey consumer exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("huey did not finish in time")
        time.sleep(0.01)


def huey_version() -> str:
    import huey

    return str(huey.__version__)

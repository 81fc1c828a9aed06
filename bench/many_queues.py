"""Many queues in one worker process: drain rate, connections held, idle CPU, fairness.

    python bench/many_queues.py BACKEND [--url URL] [--queues 200] [--jobs-per-queue 50]
        [--backlog 100000] [--probes 40] [--idle-seconds 10] [--json FILE]

On a fresh place of the backend (``bench/peers`` targets), one run measures:

- the one-queue rate: ``bench/throughput.py``'s processed/s for ``queues x jobs-per-queue``
  jobs on one queue, in this same run (the host's speed drifts: compare within a run);
- the many-queue rate: ``jobs-per-queue`` jobs added to each of ``queues`` queues
  (``bench/many_app``, batch_size 10 each), then ONE worker process (``python -m
  qgen.runtime.worker``) drains them all; timed as throughput.py times it, from the moment the
  worker creates its services to the moment it has run the last job. Target: 80% of the first;
- connections: the most the worker process held at once, sampled every 50 ms through the whole
  run: its TCP connections to the server (psutil), and the server's own view where it has one
  (PostgreSQL: ``pg_stat_activity`` rows with the worker's application_name; Redis: ``CLIENT
  LIST`` rows with the worker's client_name); SQLite: open handles on the database file;
- idle CPU: the worker's CPU time over ``idle-seconds`` with every queue empty, as a share of
  one core;
- idle-queue start latency: ``backlog`` jobs are added to the first queue; while the worker
  works through them, ``probes`` jobs are added one by one (every 100 ms) to the other,
  idle, queues; each records how long it waited from just before its add to its start (p50,
  p99), and how far the backlog had got by then.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
MANY_APP = BENCH / "many_app"
for p in (str(ROOT), str(BENCH / "app"), str(MANY_APP)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench import throughput  # noqa: E402
from bench.peers import TARGETS  # noqa: E402
from qgen.runtime.backends.base import AddOptions  # noqa: E402
from qgen.runtime.backends.registry import open_backend, provision  # noqa: E402


def queue_name(i: int) -> str:
    return f"many-{i:03d}"


# -- connections, per backend ----------------------------------------------------------------


def _worker_url(backend: str, url: str, tag: str) -> str:
    """The worker's URL: on PostgreSQL it names its connections, for pg_stat_activity."""
    if backend == "postgres":
        return f"{url}{'&' if '?' in url else '?'}application_name={tag}"
    if backend == "redis":  # CLIENT LIST names them <tag>, <tag>:wait, <tag>:events
        return f"{url}{'&' if '?' in url else '?'}client_name={tag}"
    return url


def _server_view(backend: str, url: str, tag: str, proc: psutil.Process) -> int | None:
    """Connections of the worker as the server lists them (None: no such view)."""
    if backend == "postgres":
        import psycopg

        from bench.peers.pg_target import split

        with psycopg.connect(split(url)[0], autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)
            ).fetchone()
        return int(row[0]) if row else 0
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(url.split("?")[0], decode_responses=True)
        try:
            listed = client.client_list()
        finally:
            client.close()
        return sum(1 for c in listed if c["name"] == tag or c["name"].startswith(tag + ":"))
    return None


def _own_view(backend: str, url: str, proc: psutil.Process) -> int:
    """Connections (TCP to the server's port) or, for SQLite, handles on the database file."""
    if backend == "sqlite":
        path = os.path.realpath(url[len("sqlite:///") :].partition("?")[0])
        return sum(1 for f in proc.open_files() if f.path.startswith(path))
    port = urlsplit(url).port
    return sum(
        1
        for c in proc.net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


class Sampler(threading.Thread):
    """The most connections the worker held, sampled every 50 ms until stopped."""

    def __init__(self, probes: dict[str, Callable[[], int | None]]) -> None:
        super().__init__(daemon=True)
        self.probes = probes
        self.most: dict[str, int | None] = dict.fromkeys(probes)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            for name, probe in self.probes.items():
                try:
                    value = probe()
                except (psutil.Error, OSError):
                    return  # the worker is gone
                if value is not None:
                    self.most[name] = max(value, self.most[name] or 0)


# -- the run ---------------------------------------------------------------------------------


def _configs(queues: int) -> dict[str, dict[str, Any]]:
    return {queue_name(i): {"batch_size": 10} for i in range(queues)}


async def _add(url: str, queues: int, per_queue: int, chunk: int = 1000) -> None:
    await provision(url, _configs(queues))
    backend = await open_backend(url, _configs(queues))
    try:
        for i in range(queues):
            for start in range(0, per_queue, chunk):
                n = min(chunk, per_queue - start)
                await backend.enqueue_many(
                    queue_name(i), [({"n": k}, AddOptions()) for k in range(n)]
                )
    finally:
        await backend.close()


async def _probe(url: str, queues: int, backlog: int, probes: int) -> None:
    """Fill the first queue with ``backlog`` jobs, then add ``probes`` jobs to idle queues."""
    backend = await open_backend(url, _configs(queues))
    try:
        first = queue_name(0)
        for start in range(0, backlog, 1000):
            n = min(1000, backlog - start)
            await backend.enqueue_many(first, [({"n": k}, AddOptions()) for k in range(n)])
        for k in range(probes):
            queue = queue_name(1 + k % (queues - 1))
            await backend.enqueue(queue, {"sent": time.time()}, AddOptions())
            await asyncio.sleep(0.1)
    finally:
        await backend.close()


def _lines(mark: Path, kind: str) -> list[list[str]]:
    return [ln.split() for ln in mark.read_text().splitlines() if ln.startswith(kind + " ")]


def _wait_for(
    mark: Path, kind: str, count: int, proc: subprocess.Popen[bytes], limit: float
) -> None:
    deadline = time.monotonic() + limit
    while len(_lines(mark, kind)) < count:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited early ({proc.returncode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {count} {kind!r} lines in {limit} s")
        time.sleep(0.005)


def many_queues(backend: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    total = args.queues * args.jobs_per_queue
    asyncio.run(_add(url, args.queues, args.jobs_per_queue))
    mark = Path(tempfile.mkstemp(prefix="qgen-many-", suffix=".mark")[1])
    tag = f"qgen-bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "QGEN_BENCH_MARK": str(mark),
        "QGEN_BENCH_JOBS": str(total),
        "QGEN_BENCH_QUEUES": str(args.queues),
        "PYTHONPATH": os.pathsep.join([str(MANY_APP), str(ROOT)]),
        "QGEN_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "qgen.runtime.worker", "--url", _worker_url(backend, url, tag)]
    cmd += ["--wiring", "manyapp", "--services", "manyapp:create_services"]
    proc = subprocess.Popen(cmd, env=env, cwd=MANY_APP)
    ps = psutil.Process(proc.pid)
    sampler = Sampler(
        {
            "own": lambda: _own_view(backend, url, ps),
            "server": lambda: _server_view(backend, url, tag, ps),
        }
    )
    sampler.start()
    out: dict[str, Any] = {"queues": args.queues, "jobs": total}
    try:
        _wait_for(mark, "end", 1, proc, 900)
        start = float(_lines(mark, "start")[0][2])
        out["many_queue_per_s"] = total / (float(_lines(mark, "end")[0][2]) - start)
        time.sleep(1.0)  # the last round is recorded; the loops go idle
        cpu0, t0 = ps.cpu_times(), time.monotonic()
        time.sleep(args.idle_seconds)
        cpu1, t1 = ps.cpu_times(), time.monotonic()
        busy = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        out["idle_cpu_percent"] = 100.0 * busy / (t1 - t0)
        if args.probes and args.queues > 1:
            asyncio.run(_probe(url, args.queues, args.backlog, args.probes))
            _wait_for(mark, "probe", args.probes, proc, 300)
            probes = _lines(mark, "probe")
            waits = sorted(float(p[2]) for p in probes)
            out["idle_start_p50_ms"] = 1000 * statistics.median(waits)
            out["idle_start_p99_ms"] = 1000 * waits[min(len(waits) - 1, int(0.99 * len(waits)))]
            ran = max(int(p[3]) for p in probes) - total  # backlog and probe jobs run by then
            out["backlog_left_at_last_probe"] = max(0, args.backlog - ran + len(probes))
    finally:
        sampler.done.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sampler.join(5)
        mark.unlink(missing_ok=True)
    out["connections_tcp"] = sampler.most["own"]
    out["connections_server_view"] = sampler.most["server"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("backend", choices=sorted(TARGETS))
    ap.add_argument("--url", help="backend URL (default: a temporary place)")
    ap.add_argument("--queues", type=int, default=200)
    ap.add_argument("--jobs-per-queue", type=int, default=50)
    ap.add_argument("--backlog", type=int, default=100_000)
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    target = TARGETS[args.backend]
    total = args.queues * args.jobs_per_queue
    with tempfile.TemporaryDirectory(prefix="qgen-bench-") as tmpdir:
        tmp = Path(tmpdir)
        url = args.url or target.default_url.replace("{tmp}", tmpdir)
        with target.fresh(url, tmp, None) as u:
            one = throughput.processed(args.backend, target, u, total, 1)
        with target.fresh(url, tmp, None) as u:
            figures = many_queues(args.backend, u, args)
    figures["one_queue_per_s"] = one
    figures["ratio"] = figures["many_queue_per_s"] / one
    _print(args.backend, figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def _print(backend: str, f: dict[str, Any]) -> None:
    def num(key: str, fmt: str = ",.0f") -> str:
        value = f.get(key)
        return "-" if value is None else format(value, fmt)

    print(f"\n{backend}: {f['queues']} queues x {f['jobs'] // f['queues']} jobs, one worker")
    print(f"  one queue (throughput.py), processed/s   {num('one_queue_per_s'):>10}")
    print(f"  {f['queues']} queues, processed/s              {num('many_queue_per_s'):>10}")
    print(f"  ratio (target >= 0.80)                   {num('ratio', '.2f'):>10}")
    print(
        f"  connections held (TCP or SQLite files / server) {num('connections_tcp', 'd'):>4} / "
        f"{num('connections_server_view', 'd')}"
    )
    print(
        f"  idle CPU, {f['queues']} empty queues (% of a core)  {num('idle_cpu_percent', '.2f'):>7}"
    )
    print(
        f"  idle-queue start p50 / p99 (ms)          {num('idle_start_p50_ms', '.1f'):>6} / "
        f"{num('idle_start_p99_ms', '.1f')}"
    )
    print(f"  backlog still waiting at the last probe  {num('backlog_left_at_last_probe'):>10}")


if __name__ == "__main__":
    raise SystemExit(main())

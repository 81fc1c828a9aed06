"""How fast does the dashboard answer with a big queue? (issue 15, item 6)

    python bench/dashboard_render.py [postgres|sqlite] [--url URL] [--jobs 100000]
        [--processed 10000] [--runs 5] [--json FILE]

Fills one queue of ``bench/app`` (``bench-noop``) through its generated client: first
``--processed`` jobs run by the generated worker (so the queue has finished jobs, kept as the
default retention keeps them, and the throughput chart has something to count), then ``--jobs``
more added in chunks of 1,000 (one in ten delayed by an hour), which stay waiting or delayed.
Then it serves ``qgen dashboard`` for that URL in its own process and times, end to end over
HTTP from this process, each page a person opens: the queue list, the queue page (its default
tab lists failed jobs), the waiting and delayed lists, the twentieth page of waiting jobs
(through the cursors), the JSON the list polls, and one job's page. The first request of each
apart (cold), then ``--runs`` more: median and worst in milliseconds; the two pages that count
throughput are spaced past the dashboard's 4-second cache, so each run computes it. The
target is under a second.

Default URL: a fresh schema on the local PostgreSQL (dropped afterwards), or a temporary SQLite
file. Not a test: it prints numbers and the machine's load (``uptime``), which drifts a lot here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "bench" / "app"
QUEUE = "bench-noop"
CHUNK = 1_000
PG_SERVER = os.environ.get("QGEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
for path in (ROOT, APP):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from benchapp.generated.client import AsyncQueueClient  # noqa: E402

from bench.ports import free_port  # noqa: E402


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


@contextlib.contextmanager
def place(backend: str, url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'jobs.db'}"
        return
    from bench.peers import pg_target  # a fresh schema, dropped afterwards

    with pg_target.fresh(PG_SERVER, Path(), None) as url:
        yield url


def order(i: int) -> dict[str, Any]:
    return {"order_id": f"o-{i}", "amount": 100 + i % 900, "currency": "EUR"}


async def add(url: str, start: int, count: int, delayed_every: int = 0) -> None:
    client = AsyncQueueClient(url)
    try:
        q = client.queue(QUEUE)
        for first in range(start, start + count, CHUNK):
            rows = range(first, min(first + CHUNK, start + count))
            now = [order(i) for i in rows if not delayed_every or i % delayed_every]
            later = [order(i) for i in rows if delayed_every and not i % delayed_every]
            if now:
                await q.add_many(now)
            if later:
                await q.add_many(later, delay=3600)
    finally:
        await client.close()


async def counts(url: str) -> dict[str, Any]:
    client = AsyncQueueClient(url)
    try:
        return (await client.queue(QUEUE).counts()).as_dict()
    finally:
        await client.close()


def env() -> dict[str, str]:
    out = dict(os.environ)
    out["PYTHONPATH"] = os.pathsep.join([str(APP), str(ROOT), out.get("PYTHONPATH", "")])
    out.pop("QGEN_URL", None)
    out.pop("QGEN_DASHBOARD_TOKEN", None)
    return out


def process(backend: str, url: str, count: int) -> float:
    """Add ``count`` jobs and run them with the generated worker; seconds taken."""
    asyncio.run(add(url, 0, count))
    began = time.perf_counter()
    cmd = [sys.executable, "-m", f"benchapp.generated.workers.{backend}", "--url", url]
    proc = subprocess.Popen(cmd, cwd=APP, env=env(), stdout=subprocess.DEVNULL)
    try:
        while True:
            c = asyncio.run(counts(url))
            if c["waiting"] == 0 and c["active"] == 0:
                return time.perf_counter() - began
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited with {proc.returncode}")
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def served(url: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "qgen.cli", "dashboard", "--project", str(APP)]
    cmd += ["--url", url, "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=APP, env=env(), stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(base + "/static/dashboard.css")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("qgen dashboard did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
        text: str = response.read().decode()
        return text


def timed(url: str, runs: int, spaced: bool) -> dict[str, float]:
    """The first request (cold) apart, then ``runs`` more. ``spaced``: the page counts
    throughput, which the dashboard keeps for 4 s; wait that out so every run computes it."""
    took = []
    for _ in range(runs + 1):
        if spaced:
            time.sleep(4.2)
        began = time.perf_counter()
        get(url)
        took.append((time.perf_counter() - began) * 1000)
    first, rest = took[0], took[1:]
    return {
        "first_ms": round(first, 1),
        "median_ms": round(statistics.median(rest), 1),
        "worst_ms": round(max(rest), 1),
    }


def twentieth_page(base: str) -> str:
    path = f"/queues/{QUEUE}?status=waiting"
    for _ in range(19):
        found = re.search(r'<a class="more" href="([^"]+)"', get(base + path))
        if not found:
            raise SystemExit("fewer than 20 pages of waiting jobs")
        path = found.group(1).replace("&amp;", "&")
    return path


def pages(base: str) -> dict[str, str]:
    waiting = get(f"{base}/queues/{QUEUE}?status=waiting")
    job = re.search(r'<tr data-job="([^"]+)">', waiting)
    if not job:
        raise SystemExit("no waiting job listed")
    return {
        "queue list (/)": "/",
        "queue page (failed tab)": f"/queues/{QUEUE}",
        "waiting jobs, first page": f"/queues/{QUEUE}?status=waiting",
        "delayed jobs, first page": f"/queues/{QUEUE}?status=delayed",
        "waiting jobs, 20th page": twentieth_page(base),
        "counts JSON (/api/queues)": "/api/queues",
        "one job's page": f"/queues/{QUEUE}/job?id={job.group(1)}",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("backend", nargs="?", default="postgres", choices=["postgres", "sqlite"])
    ap.add_argument("--url", help="backend URL (default: a fresh temporary place)")
    ap.add_argument("--jobs", type=int, default=100_000, help="jobs left waiting or delayed")
    ap.add_argument("--processed", type=int, default=10_000, help="jobs run first")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args(argv)
    print(f"before: {uptime()}")
    with place(args.backend, args.url) as url:
        took = process(args.backend, url, args.processed) if args.processed else 0.0
        began = time.perf_counter()
        asyncio.run(add(url, args.processed, args.jobs, delayed_every=10))
        filled = time.perf_counter() - began
        held = asyncio.run(counts(url))
        print(
            f"{args.backend}: ran {args.processed} jobs in {took:.1f} s, added {args.jobs} in "
            f"{filled:.1f} s; the queue holds {json.dumps(held)}"
        )
        with served(url) as base:
            figures = {
                name: timed(base + path, args.runs, path in ("/", "/api/queues"))
                for name, path in pages(base).items()
            }
    width = max(len(name) for name in figures)
    for name, f in figures.items():
        verdict = "ok" if max(f["worst_ms"], f["first_ms"]) < 1000 else "OVER 1 s"
        times = f"first {f['first_ms']:>7.1f}  median {f['median_ms']:>7.1f}"
        print(f"  {name:<{width}}  {times}  worst {f['worst_ms']:>7.1f} ms  {verdict}")
    print(f"after: {uptime()}")
    if args.json:
        out = {"backend": args.backend, "counts": held, "pages": figures, "load": uptime()}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

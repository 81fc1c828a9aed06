"""Jobs per second of a qgen backend, beside its peers, in one run.

    python bench/throughput.py sqlite [--url URL] [--jobs 10000] [--peers]
        [--synchronous full|normal|full,normal] [--workers 1|2|1,2] [--rounds 3] [--json FILE]
        [--telemetry off,metrics,sampled,on]

For each durability setting (backends that have one), on a fresh place each time:

- single adds/s: ``jobs`` awaited ``add`` calls, one at a time, through the generated async
  client of ``bench/app`` (pydantic validation included);
- bulk adds/s: ``add_many`` in chunks of 1,000;
- processed/s: the generated worker of ``bench/app`` (``python -m
  benchapp.generated.workers.<backend>``) run as 1 (and/or 2) separate processes on ``jobs``
  bulk-added jobs, batch_size 10, the full runner (validation, outcome classification) in place;
  timed from the moment the first worker process starts its services (imports done) until the
  harness sees the last job completed in the store. With several workers: from the moment all
  of them are up, counting only the jobs completed after it.

``--telemetry off,metrics,on`` runs every qgen row once per mode in one run, side by side
(``metrics``: the worker with ``--metrics-port`` only, tracing off): ``off`` with
``QGEN_TRACING=off`` and no metrics; ``on`` with the OpenTelemetry SDK configured in the bench
(producer spans, the trace context stored with each job) and in each worker process (a span
per attempt), batching spans to an exporter that drops them (``bench/telemetry_on.py``), and
the worker serving Prometheus metrics (``--metrics-port``) with its queue sampler running;
``sampled``: the same with head sampling keeping one trace in ten (``--trace-sample``; a
``ParentBased`` sampler, the usual set-up of a busy service; see ``bench/telemetry_on.py``).

``sqs``: without ``--url``, moto's server started for the run; one worker process only (SQS
cannot count completed jobs); the timing ends at the worker's ``end`` mark with the queue empty
(``bench/peers/sqs_target.py``, bench/README.md).

Peers (``--peers``) are listed in ``bench/peers/__init__.py`` and run on their own fresh URL with
the same ``jobs``. The table ends with qgen's ratio to each peer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
APP = BENCH / "app"
for p in (str(ROOT), str(APP)):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench.peers import PEERS, TARGETS, Target  # noqa: E402
from bench.ports import free_port  # noqa: E402

QUEUE = "bench-noop"
DATA = {"order_id": "o-1", "amount": 500, "currency": "EUR"}
FIGURES = ("single_adds_per_s", "bulk_adds_per_s", "processed_per_s")
HEADS = ("single adds/s", "bulk adds/s", "processed/s")


def _client(url: str) -> Any:
    from benchapp.generated.client import AsyncQueueClient

    return AsyncQueueClient(url)


async def single_adds(url: str, jobs: int) -> float:
    client = _client(url)
    try:
        await client.bench_noop.add(DATA)  # connect (and create the file) outside the timing
        t0 = time.perf_counter()
        for _ in range(jobs):
            await client.bench_noop.add(DATA)
        return jobs / (time.perf_counter() - t0)
    finally:
        await client.close()


async def bulk_adds(url: str, jobs: int, chunk: int = 1000) -> float:
    client = _client(url)
    try:
        await client.bench_noop.add_many([DATA])
        t0 = time.perf_counter()
        for start in range(0, jobs, chunk):
            await client.bench_noop.add_many([DATA] * min(chunk, jobs - start))
        return jobs / (time.perf_counter() - t0)
    finally:
        await client.close()


SAMPLED = 0.1  # the share of traces kept by ``--telemetry sampled`` (``--trace-sample``)


def _set_sampled(ratio: float) -> None:
    global SAMPLED
    if not 0 < ratio <= 1:
        raise SystemExit(f"--trace-sample takes a share in (0, 1], not {ratio}")
    SAMPLED = ratio


TRACED = ("on", "sampled")


def _telemetry(mode: str) -> None:
    """Tracing on (the SDK, installed once; every trace kept, or ``SAMPLED`` of them) or off
    for this process's client, from now on."""
    from qgen.runtime import telemetry

    if mode in TRACED:
        os.environ.pop("QGEN_TRACING", None)
        from opentelemetry import trace

        sys.path.insert(0, str(BENCH))
        telemetry_on = importlib.import_module("telemetry_on")
        if not type(trace.get_tracer_provider()).__module__.startswith("opentelemetry.sdk"):
            telemetry_on.install()
        telemetry_on.sample(SAMPLED if mode == "sampled" else 1.0)
    else:
        os.environ["QGEN_TRACING"] = "off"
    telemetry.reset()


def _worker_cmd(backend: str, url: str, telemetry: str | None) -> list[str]:
    """The worker: plain (None, "off"), with ``--metrics-port`` ("metrics"), and also traced
    with the SDK ("on", "sampled")."""
    module = f"benchapp.generated.workers.{backend}"
    args = ["--url", url]
    if telemetry in ("metrics", *TRACED):
        args += ["--metrics-port", str(free_port()), "--metrics-host", "127.0.0.1"]
    if telemetry in TRACED:
        return [sys.executable, str(BENCH / "telemetry_on.py"), module, *args]
    return [sys.executable, "-m", module, *args]


def processed(
    backend: str, target: Target, url: str, jobs: int, workers: int, telemetry: str | None = None
) -> float:
    """Bulk-add ``jobs`` jobs, then time ``workers`` worker processes until all are done."""
    asyncio.run(_fill(url, jobs))
    mark = Path(tempfile.mkstemp(prefix="qgen-bench-", suffix=".mark")[1])
    env = {
        **os.environ,
        "QGEN_BENCH_MARK": str(mark),
        "QGEN_BENCH_JOBS": str(jobs if workers == 1 else 0),
        "PYTHONPATH": os.pathsep.join([str(APP), str(ROOT)]),
        "QGEN_LOG_LEVEL": "WARNING",
        "QGEN_BENCH_TRACE_RATIO": str(SAMPLED if telemetry == "sampled" else 1.0),
    }
    cmds = [_worker_cmd(backend, url, telemetry) for _ in range(workers)]
    procs = [subprocess.Popen(cmd, env=env, cwd=APP) for cmd in cmds]
    try:
        start: float | None = None
        end: float | None = None
        cpu0: float | None = None  # the workers' CPU seconds when the timing starts
        done0 = 0  # jobs already done when the timing starts
        deadline = time.monotonic() + 900
        while end is None:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError(f"a worker exited early: {[p.returncode for p in procs]}")
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not finish in 900 s")
            text = mark.read_text()
            starts = [float(ln.split()[2]) for ln in text.splitlines() if ln.startswith("start")]
            if start is None and len(starts) >= workers:
                if workers > 1 and target.completed is not None:
                    # Time from the moment every worker is up (a process takes a while to
                    # import), counting only the jobs done after it.
                    start = time.time()
                    done0 = target.completed(url, QUEUE) or 0
                else:
                    start = min(starts)
                cpu0 = _cpu(procs)
            ends = [float(ln.split()[2]) for ln in text.splitlines() if ln.startswith("end")]
            # needs_mark: the store is asked only once the worker ran all jobs (SQS).
            if starts and (ends or not target.needs_mark) and _all_done(target, url, jobs):
                end = time.time()
                break
            if ends and target.all_done is None and target.completed is None:
                end = max(ends)
                break
            time.sleep(0.005)
        if start is None or done0 >= jobs * 0.9:
            raise RuntimeError(f"too few jobs ({jobs}) to time {workers} workers: use --jobs")
        cpu1 = _cpu(procs)
        if cpu0 is not None and cpu1 is not None:
            LAST_CPU["us_per_job"] = (cpu1 - cpu0) / (jobs - done0) * 1e6
        return (jobs - done0) / (end - start)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        mark.unlink(missing_ok=True)


LAST_CPU: dict[str, float] = {}  # the last ``processed`` run's worker CPU per job


def _cpu(procs: list[subprocess.Popen[bytes]]) -> float | None:
    """User + system CPU seconds the worker processes used so far (Linux /proc), or None."""
    total = 0.0
    for p in procs:
        try:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _all_done(target: Target, url: str, jobs: int) -> bool:
    if target.all_done is not None:
        return target.all_done(url, QUEUE, jobs)
    if target.completed is not None:
        done = target.completed(url, QUEUE)
        return done is not None and done >= jobs
    return False


async def _fill(url: str, jobs: int, chunk: int = 1000) -> None:
    client = _client(url)
    try:
        for start in range(0, jobs, chunk):
            await client.bench_noop.add_many([DATA] * min(chunk, jobs - start))
    finally:
        await client.close()


def run_qgen(
    backend: str,
    target: Target,
    url: str,
    tmp: Path,
    jobs: int,
    sync: str | None,
    workers: list[int],
    telemetry: str | None = None,
) -> list[dict[str, Any]]:
    """``telemetry``: None (as the environment says), or a mode of ``--telemetry`` (named in
    the rows)."""
    rows: list[dict[str, Any]] = []
    if telemetry is not None:
        _telemetry(telemetry)
    suffix = "" if telemetry is None else f", telemetry {telemetry}"
    with target.fresh(url, tmp, sync) as u:
        single = asyncio.run(single_adds(u, jobs))
    with target.fresh(url, tmp, sync) as u:
        bulk = asyncio.run(bulk_adds(u, jobs))
    for n in workers:
        LAST_CPU.clear()
        with target.fresh(url, tmp, sync) as u:
            rate = processed(backend, target, u, jobs, n, telemetry)
        first = not rows
        rows.append(
            {
                "name": f"qgen {backend} ({n} worker process{'es' if n > 1 else ''}, batch 10"
                f"{suffix})",
                "single_adds_per_s": single if first else None,
                "bulk_adds_per_s": bulk if first else None,
                "processed_per_s": rate,
                "worker_cpu_us_per_job": LAST_CPU.get("us_per_job"),
                "workers": n,
            }
        )
    return rows


def run_peer(
    peer: str, target: Target, url: str, tmp: Path, jobs: int, sync: str | None
) -> dict[str, Any]:
    """Each peer in a fresh process, so no state (imports, loops, threads) leaks between them."""
    with target.fresh(url, tmp, sync) as u:
        code = (
            "import json, sys; from bench.peers import " + peer + " as m; "
            "print('RESULT ' + json.dumps(m.run(sys.argv[1], int(sys.argv[2]))))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, u, str(jobs)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if out.returncode != 0:
            raise RuntimeError(f"peer {peer} failed:\n{out.stderr[-3000:]}")
        line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
        result: dict[str, Any] = json.loads(line[len("RESULT ") :])
        return result


def median_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Row by row, the median of each figure over the rounds."""
    out = []
    for i, first in enumerate(runs[0]):
        row = dict(first)
        for f in (*FIGURES, "worker_cpu_us_per_job"):
            vals = [r[i][f] for r in runs if r[i].get(f) is not None]
            row[f] = statistics.median(vals) if vals else None
        out.append(row)
    return out


def fmt(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(title: str, rows: list[dict[str, Any]]) -> str:
    width = max(len(r["name"]) for r in rows) + 2
    out = [title, "".join([f"{'':<{width}}"] + [f"{h:>16}" for h in HEADS])]
    for r in rows:
        out.append("".join([f"{r['name']:<{width}}"] + [f"{fmt(r.get(f)):>16}" for f in FIGURES]))
    qgen = [r for r in rows if r["name"].startswith("qgen")]
    peers = [r for r in rows if not r["name"].startswith("qgen")]
    for peer in peers:
        for q in qgen:
            ratios = []
            for f, h in zip(FIGURES, HEADS, strict=True):
                a, b = q.get(f), peer.get(f)
                if a and b:
                    ratios.append(f"{h} x{a / b:.2f}")
            if ratios:
                out.append(f"  {q['name']} / {peer['name']}: " + ", ".join(ratios))
    return "\n".join(out)


MODES = ("off", "metrics", "sampled", "on")


def _modes(arg: str | None, rnd: int) -> list[str | None]:
    """The telemetry modes of one round, in alternating order (the host's speed drifts)."""
    if not arg:
        return [None]
    modes: list[str | None] = [m.strip().lower() for m in arg.split(",")]
    if any(m not in MODES for m in modes):
        raise SystemExit(f"--telemetry takes {', '.join(MODES)} (comma separated), not {arg!r}")
    return modes[::-1] if rnd % 2 else modes


def telemetry_cost(rows: list[dict[str, Any]]) -> str:
    """Each figure with telemetry on (or metrics only) as a share of the same row with it off."""
    out = []
    ends = tuple(f"telemetry {m})" for m in MODES if m != "off")
    for on in (r for r in rows if r["name"].endswith(ends)):
        mode = on["name"].rsplit(" ", 1)[1]
        off = next((r for r in rows if r["name"] == on["name"][: -len(mode)] + "off)"), None)
        if off is None:
            continue
        shares = [
            f"{h} {on[f] / off[f]:.1%}"
            for f, h in zip(FIGURES, HEADS, strict=True)
            if on.get(f) and off.get(f)
        ]
        cpu_on, cpu_off = on.get("worker_cpu_us_per_job"), off.get("worker_cpu_us_per_job")
        if cpu_on and cpu_off:
            shares.append(f"worker CPU per job {cpu_off:.0f} -> {cpu_on:.0f} us")
        label = mode.rstrip(")")
        out.append(
            f"  telemetry {label} / off, {on.get('workers', 1)} worker(s): " + ", ".join(shares)
        )
    return "\n".join(out)


def _peers(backend: str, wanted: str | None) -> list[str]:
    """The peers ``--peers`` names: none, all of the backend's, or a comma list of them."""
    known = PEERS.get(backend, [])
    if wanted is None:
        return []
    if wanted == "all":
        return known
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown peer(s) {unknown} for {backend}: choose from {known}")
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("backend", choices=sorted(TARGETS))
    ap.add_argument("--url", help="backend URL (default: a temporary place)")
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument(
        "--peers",
        nargs="?",
        const="all",
        help="also run the backend's peers (all, or a comma list such as pg_pgqueuer)",
    )
    ap.add_argument("--synchronous", default="full", help="full, normal or full,normal (SQLite)")
    ap.add_argument("--workers", default="1", help="worker processes: 1, 2 or 1,2")
    ap.add_argument("--rounds", type=int, default=1, help="repeat, alternating; print medians")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument(
        "--telemetry",
        help="off, metrics, sampled, on (comma separated): qgen rows without / with tracing "
        "and metrics (see above)",
    )
    ap.add_argument(
        "--trace-sample",
        type=float,
        default=SAMPLED,
        help="the share of traces --telemetry sampled keeps (default 0.1; 1/n for a whole n)",
    )
    args = ap.parse_args(argv)
    _set_sampled(args.trace_sample)
    target = TARGETS[args.backend]
    workers = [int(w) for w in str(args.workers).split(",")]
    syncs: list[str | None] = (
        [s.strip().lower() for s in args.synchronous.split(",")]
        if args.backend == "sqlite"
        else [None]
    )
    results: dict[str, list[dict[str, Any]]] = {}
    if target.one_worker and any(w > 1 for w in workers):
        ap.error(f"--workers {args.workers} on {args.backend}: {target.one_worker}")
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory(prefix="qgen-bench-") as tmpdir,
    ):
        tmp = Path(tmpdir)
        url = args.url or target.default_url.replace("{tmp}", tmpdir)
        if not args.url and target.server is not None:
            url = stack.enter_context(target.server())
        for sync in syncs:
            label = f"synchronous={sync.upper()}" if sync else "default"
            runs: list[list[dict[str, Any]]] = []
            for rnd in range(args.rounds):
                # Alternate who goes first: the host's speed drifts over a run.
                rows = []
                for first in ("peers", "qgen") if rnd % 2 else ("qgen", "peers"):
                    if first == "qgen":
                        for mode in _modes(args.telemetry, rnd):
                            rows += run_qgen(
                                args.backend, target, url, tmp, args.jobs, sync, workers, mode
                            )
                    else:
                        rows += [
                            run_peer(peer, target, url, tmp, args.jobs, sync)
                            for peer in _peers(args.backend, args.peers)
                        ]
                rows.sort(
                    key=lambda r: (not r["name"].startswith("qgen"), r.get("workers", 0), r["name"])
                )
                for r in rows:
                    print(f"  round {rnd + 1}: {json.dumps(r)}", file=sys.stderr, flush=True)
                runs.append(rows)
            rows = median_rows(runs)
            results[label] = rows
            title = f"\n{args.backend}, {args.jobs:,} no-op jobs, {label}"
            if args.rounds > 1:
                title += f", median of {args.rounds} rounds"
            print(table(title, rows), flush=True)
            print(telemetry_cost(rows), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

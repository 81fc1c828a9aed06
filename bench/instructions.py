"""Instructions a worker process spends per job, by telemetry mode, counted by valgrind.

    python bench/instructions.py redis [--modes off,metrics,sampled,on] [--jobs 1000,3000]
        [--trace-sample 0.1] [--chunk 100] [--url URL]

CPU time per job on a shared machine moves by 10-20% between identical runs; the number of
instructions the worker executes does not. For each mode (as in ``throughput.py --telemetry``)
the bench app's worker runs under ``valgrind --tool=cachegrind`` (no cache simulation) twice, on
two queue sizes, and the difference of the two counts divided by the difference of the sizes is
the cost of one job: start-up and shut-down cancel out. Jobs are added with ``add_many`` in
batches of ``--chunk``, one trace per batch, so ``sampled`` keeps exactly ``--trace-sample`` of
them when the batches divide evenly (see ``telemetry_on.py``). Needs valgrind (Debian:
``apt install valgrind``); each run takes a minute or two. Instructions are not time (a cache
miss costs more than an add), so the figures say what a change costs the worker's CPU, not its
processed/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

import throughput as tp  # noqa: E402


def count(backend: str, url: str, mode: str, jobs: int, chunk: int) -> int:
    """Instructions of one worker process that runs ``jobs`` jobs, then stops."""
    target = tp.TARGETS[backend]
    tp._telemetry(mode)
    with (
        tempfile.TemporaryDirectory(prefix="qgen-bench-") as tmp,
        target.fresh(url, Path(tmp), "full") as u,
    ):
        asyncio.run(tp._fill(u, jobs, chunk))
        mark = Path(tmp) / "mark"
        mark.write_text("")
        env = {
            **os.environ,
            "QGEN_BENCH_MARK": str(mark),
            "QGEN_BENCH_JOBS": str(jobs),
            "PYTHONPATH": os.pathsep.join([str(tp.APP), str(tp.ROOT)]),
            "QGEN_LOG_LEVEL": "WARNING",
            "QGEN_BENCH_TRACE_RATIO": str(tp.SAMPLED if mode == "sampled" else 1.0),
        }
        grind = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
        ]
        proc = subprocess.Popen(
            [*grind, *tp._worker_cmd(backend, u, mode)],
            env=env,
            cwd=tp.APP,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 1800
        while "end" not in mark.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the worker did not finish:\n{proc.communicate()[1][-3000:]}")
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=600)[1]
    found = re.search(r"I\s+refs:\s+([\d,]+)", err)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{err[-3000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("backend", choices=sorted(tp.TARGETS))
    ap.add_argument("--modes", default="off,metrics,sampled,on")
    ap.add_argument("--jobs", default="1000,3000", help="the two queue sizes")
    ap.add_argument("--trace-sample", type=float, default=tp.SAMPLED)
    ap.add_argument("--chunk", type=int, default=100, help="jobs per add_many (one trace each)")
    ap.add_argument("--url", help="backend URL (default: as throughput.py)")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    tp._set_sampled(args.trace_sample)
    small, large = (int(n) for n in args.jobs.split(","))
    target = tp.TARGETS[args.backend]
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        url = args.url
        if url is None and target.server is not None:
            url = stack.enter_context(target.server())
        url = url or target.default_url.replace("{tmp}", tmp)
        base = None
        for mode in tp._modes(args.modes, 0):
            assert mode is not None
            a = count(args.backend, url, mode, small, args.chunk)
            b = count(args.backend, url, mode, large, args.chunk)
            per_job = (b - a) / (large - small)
            base = per_job if base is None else base
            share = f" ({per_job / base:.1%} of {args.modes.split(',')[0]})"
            print(f"{args.backend} {mode}: {per_job:,.0f} instructions/job{share}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

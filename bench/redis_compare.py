"""Side-by-side Redis numbers: qgen against the Python peers, each in a fresh process, in
alternating rounds; prints the median of each figure and qgen's ratios.

    python bench/redis_compare.py [--url redis://127.0.0.1:6379/0] [--jobs 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ["redis_qgen", "redis_bullmq", "redis_dramatiq", "redis_saq"]
FIGURES = ["single_adds_per_s", "bulk_adds_per_s", "processed_per_s"]


def run_one(peer: str, url: str, jobs: int) -> dict[str, object]:
    code = (
        f"import json, sys; from bench.peers import {peer} as m; "
        "print('RESULT ' + json.dumps(m.run(sys.argv[1], int(sys.argv[2]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url, str(jobs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, object] = json.loads(line[len("RESULT ") :])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--peers", default=",".join(PEERS))
    args = ap.parse_args()
    peers = args.peers.split(",")
    results: dict[str, list[dict[str, object]]] = {p: [] for p in peers}
    for rnd in range(args.rounds):
        order = peers if rnd % 2 == 0 else list(reversed(peers))
        for peer in order:
            res = run_one(peer, args.url, args.jobs)
            results[peer].append(res)
            print(f"round {rnd + 1} {peer}: " + json.dumps(res), file=sys.stderr)
    med: dict[str, dict[str, float | None]] = {}
    for peer, runs in results.items():
        med[peer] = {}
        for fig in FIGURES:
            vals = [float(v) for r in runs if isinstance(v := r.get(fig), int | float)]
            med[peer][fig] = statistics.median(vals) if vals else None
    print(f"\n{args.jobs} jobs, median of {args.rounds} rounds, one worker process, 10 in flight")
    print(f"| peer | {' | '.join(FIGURES)} |")
    print("|---|" + "---:|" * len(FIGURES))
    for peer in peers:
        name = str(results[peer][0].get("name", peer))
        cells = [f"{v:,.0f}" if v is not None else "n/a" for v in med[peer].values()]
        print(f"| {name} | {' | '.join(cells)} |")
    q = med.get("redis_qgen")
    if q:
        for peer in peers:
            if peer == "redis_qgen":
                continue
            parts = []
            for fig in FIGURES:
                a, b = q[fig], med[peer][fig]
                parts.append(f"{fig} {a / b:.2f}x" if a and b else f"{fig} n/a")
            print(f"qgen / {peer}: " + ", ".join(parts))


if __name__ == "__main__":
    main()

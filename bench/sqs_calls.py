"""SQS benchmark: qgen against a plain boto3 loop, and SQS API calls per job processed.

    python bench/sqs_calls.py [--url sqs://us-east-1?endpoint_url=http://127.0.0.1:PORT] [--jobs N]

Without ``--url`` it starts moto's standalone server in a subprocess on 127.0.0.1 (a free port)
with dummy credentials. moto is slow (tens of messages per second, slower as a queue grows), so
its jobs/s measure moto. The npm package ``local-aws-sqs`` is a much faster local server:

    npm i local-aws-sqs && node -e "import('local-aws-sqs').then(m =>
        m.createSqsServer({port: 5000, hostname: '127.0.0.1'}))" &
    python bench/sqs_calls.py --url 'sqs://us-east-1?endpoint_url=http://127.0.0.1:5000' --jobs 2000

Calls per job (what AWS bills) carry over to AWS; jobs/s on a local server do not.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "peers")]

from bench.peers.sqs_target import server as moto_server  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--url")
    p.add_argument("--jobs", type=int, default=1000)
    args = p.parse_args()
    if args.jobs < 20:
        p.error("--jobs must be at least 20")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")
    import logging

    logging.getLogger("qgen").setLevel(logging.WARNING)
    import sqs_boto3
    import sqs_qgen

    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(moto_server())
        rows = [sqs_qgen.run(url, args.jobs), sqs_boto3.run(url, args.jobs)]
    print(f"SQS, {args.jobs} jobs, {url}")
    print(f"{'':12} {'single add/s':>13} {'bulk add/s':>11} {'processed/s':>12} {'calls/job':>10}")
    for r in rows:
        print(
            f"{r['name']:12} {r['single_adds_per_s']:13.0f} {r['bulk_adds_per_s']:11.0f} "
            f"{r['processed_per_s']:12.0f} {r['calls_per_job']:10.3f}"
        )
    q, b = rows
    print(f"qgen calls: {q['calls']} (at the last job: {q['calls_at_last_job']:.3f}/job)")
    print(
        "qgen / boto3 loop: processed x{:.2f}, single adds x{:.2f}, bulk adds x{:.2f}".format(
            q["processed_per_s"] / b["processed_per_s"],
            q["single_adds_per_s"] / b["single_adds_per_s"],
            q["bulk_adds_per_s"] / b["bulk_adds_per_s"],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A consumer in its own process, for the SQLite tests that need several processes on one file.

    python consumer_proc.py URL QUEUE MODE LOGFILE [VISIBILITY_S]

MODE ``record``: each job appends ``<pid> <job id> start`` / ``end`` lines to LOGFILE (O_APPEND,
one write per line, so lines of several processes never interleave) and sleeps a little, so two
processes overlap. MODE ``hang``: each job writes ``start`` and then never finishes (the test
kills the process). Runs until SIGTERM, then drains with a 5 s grace.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from qgen.runtime.backends.base import Completed, Delivery, Outcome
from qgen.runtime.backends.sqlite import SqliteBackend
from qgen.runtime.settings import resolve


async def main(url: str, queue: str, mode: str, logfile: str, visibility: float) -> None:
    fd = os.open(logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def note(job_id: str, what: str) -> None:
        os.write(fd, f"{os.getpid()} {job_id} {what}\n".encode())

    async def handle(d: Delivery) -> Outcome:
        note(d.job_id, "start")
        if mode == "hang":
            await asyncio.Event().wait()
        await asyncio.sleep(0.002)
        note(d.job_id, "end")
        return Completed({"pid": os.getpid()})

    backend = await SqliteBackend.connect(url, {queue: {}})
    config = {"batch_size": 5, "visibility_timeout": visibility, "poll_interval": 20}
    consumer = backend.consume([resolve(queue, config, "sqlite")], handle)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(consumer.run())
    note("-", "ready")
    await stop.wait()
    await consumer.stop(5)
    await task
    await backend.close()


if __name__ == "__main__":
    vis = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], vis))

"""The job project of ``bench/many_queues.py``: ``$QGEN_BENCH_QUEUES`` queues (default 200),
``many-000``, ``many-001``, ..., each with ``batch_size`` 10 and the same no-op job. Wired in a
loop, so it is run without a build (``python -m qgen.runtime.worker --wiring manyapp``).

The services object is a meter that writes, to the file named by ``$QGEN_BENCH_MARK`` (one
``os.write`` per line, appended): ``start <pid> <epoch s>`` when the worker creates its
services, ``end <pid> <epoch s> <count>`` once the process has run ``$QGEN_BENCH_JOBS`` jobs,
and ``probe <queue> <seconds> <count>`` for every job that carries ``sent`` (the epoch time it
was added): how long it waited to start, and how many jobs the process had run by then.
"""

from __future__ import annotations

import os
import time

from pydantic import BaseModel

from qgen import Interaction, sessionless_func, wire_queue_worker

QUEUES = int(os.environ.get("QGEN_BENCH_QUEUES", "200"))
CONFIG = {"batch_size": 10}


def queue_name(i: int) -> str:
    return f"many-{i:03d}"


class Item(BaseModel):
    n: int = 0
    sent: float | None = None


class Meter:
    def __init__(self) -> None:
        path = os.environ.get("QGEN_BENCH_MARK")
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if path else None
        self._target = int(os.environ.get("QGEN_BENCH_JOBS", "0"))
        self.count = 0
        self._write(f"start {os.getpid()} {time.time()}")

    def _write(self, line: str) -> None:
        if self._fd is not None:
            os.write(self._fd, (line + "\n").encode())

    def tick(self, queue: str, item: Item) -> None:
        self.count += 1
        if item.sent is not None:
            self._write(f"probe {queue} {time.time() - item.sent} {self.count}")
        if self.count == self._target:
            self._write(f"end {os.getpid()} {time.time()} {self.count}")


def create_services() -> Meter:
    return Meter()


@sessionless_func(auth=False)
async def work(services: Meter, data: Item, interaction: Interaction) -> None:
    services.tick(interaction.queue.queue_name if interaction.queue else "?", data)


for _i in range(QUEUES):
    wire_queue_worker(queue=queue_name(_i), func=work, config=CONFIG)

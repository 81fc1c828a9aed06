"""The services object of the bench worker: a meter that tells the harness when the worker
started and when it ran its share of jobs, through a file named by $QGEN_BENCH_MARK.

Lines (one ``os.write`` each, appended, so two worker processes never interleave):
``start <pid> <epoch s>`` when the worker creates its services (before it connects), and
``end <pid> <epoch s> <count>`` each time the process has run ``$QGEN_BENCH_JOBS`` jobs in all.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass


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

    def tick(self) -> None:
        self.count += 1
        if self.count == self._target:
            self._write(f"end {os.getpid()} {time.time()} {self.count}")


@dataclass
class Services:
    meter: Meter


def create_services() -> Services:
    return Services(Meter())

"""URL provider for the SQLite backend: a fresh queue file per test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def backend_url(tmp_path: Path) -> Iterator[str]:
    """``sqlite:///<tmp_path>/jobs.db`` (absolute path, hence four slashes); the file and its
    WAL go away with ``tmp_path``."""
    path = tmp_path / "jobs.db"
    yield f"sqlite:///{path.resolve()}"
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()

"""``sqlite:///`` URLs: the queue file and how durably it is written.

``sqlite:///relative/jobs.db`` or ``sqlite:////absolute/jobs.db`` (SQLAlchemy's convention), with
``?synchronous=full`` (the default) or ``?synchronous=normal``. At FULL every commit is synced to
disk before it returns, so an added job or a completed job survives a power loss; NORMAL syncs only
at WAL checkpoints, which is several times faster and still safe against a crash of the process
(never corrupts the file), but the last transactions before a power loss or OS crash may be rolled
back: a job added just before may vanish, a completed job may run again. ``busy_timeout`` (ms,
default 10000) bounds how long a write waits for another process's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qgen.runtime.errors import ConfigError
from qgen.runtime.urls import mask_url, strict_query

_SYNC_MODES = {"full": "FULL", "normal": "NORMAL"}


@dataclass(frozen=True, slots=True)
class SqliteUrl:
    path: Path
    synchronous: str  # "FULL" | "NORMAL"
    busy_timeout_ms: int

    @property
    def busy_timeout(self) -> float:
        """Seconds a write waits for another connection's lock."""
        return self.busy_timeout_ms / 1000


def parse_url(url: str) -> SqliteUrl:
    prefix = "sqlite:///"
    shown = mask_url(url)
    if not url.lower().startswith(prefix):
        raise ConfigError(
            f"bad SQLite URL {shown!r}: use sqlite:///relative/jobs.db or sqlite:////abs/jobs.db"
        )
    params = strict_query(url, ("synchronous", "busy_timeout"), "SQLite")
    rest = url[len(prefix) :].partition("?")[0]
    if not rest or rest.endswith("/") or rest == ":memory:":
        raise ConfigError(f"bad SQLite URL {shown!r}: it must name a file, e.g. sqlite:///jobs.db")
    url = shown  # the messages below show it
    sync = params.get("synchronous", "full").lower()
    if sync not in _SYNC_MODES:
        raise ConfigError(f"synchronous must be 'full' or 'normal' in {url!r}, not {sync!r}")
    try:
        busy = int(params.get("busy_timeout", "10000"))
    except ValueError:
        raise ConfigError(f"busy_timeout must be an integer (ms) in {url!r}") from None
    if busy < 0:
        raise ConfigError(f"busy_timeout must be >= 0 in {url!r}")
    return SqliteUrl(Path(rest), _SYNC_MODES[sync], busy)

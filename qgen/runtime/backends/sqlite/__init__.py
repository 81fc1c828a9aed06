"""The embedded SQLite backend (stdlib ``sqlite3``): one WAL file shared by producers and any
number of worker processes. Rooms as in :mod:`qgen.runtime.backends`; ``sql.py`` holds the
schema and every statement."""

from qgen.runtime.backends.sqlite.backend import SqliteBackend

__all__ = ["SqliteBackend"]

"""PostgreSQL backend with pg-boss semantics (psycopg 3): SKIP LOCKED leases with heartbeats,
LISTEN/NOTIFY wake-ups, enqueue inside the caller's transaction. Rooms as in
:mod:`qgen.runtime.backends`; ``sql.py`` holds every statement, ``migrations.py`` the schema's
versions, ``notify.py`` the listening connection."""

from qgen.runtime.backends.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]

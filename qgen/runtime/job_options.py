"""The add options of the public client, as types the generated overloads share.

``JobOptions`` is what ``add`` takes (``**options: Unpack[JobOptions]`` in the generated
client), ``BatchOptions`` what ``add_many`` takes. ``connection`` and ``group`` are declared
for every backend and refused at run time by those that cannot honour them (see
``payloads.check_backend_options``); an unknown name is a ConfigError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from qgen.runtime.errors import ConfigError
from qgen.runtime.options import BackoffConfig

if TYPE_CHECKING:
    from psycopg import AsyncConnection, Connection

    PgConnection = Connection[Any] | AsyncConnection[Any]


class BatchOptions(TypedDict, total=False):
    """Options of ``add_many``: what :class:`JobOptions` holds but ``job_id``."""

    delay: float | dt.timedelta | None  # seconds (or a timedelta) before the job may run
    priority: int | None  # higher runs first; 0 is the default
    attempts: int | None  # total tries, the first included; default: the queue's config
    backoff: BackoffConfig | None  # retry delays; default: the queue's config
    connection: PgConnection | None  # PostgreSQL only: insert inside this transaction
    group: str | None  # SQS FIFO queues only: the message group


class JobOptions(BatchOptions, total=False):
    """Options of ``add``, shared by the generated overloads."""

    job_id: str | None  # idempotent: adding the same id twice makes one job


OPTION_NAMES = frozenset(JobOptions.__annotations__)


def check_option_names(options: Mapping[str, Any], allowed: frozenset[str], call: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError(
            f"unknown option(s) for {call}: {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(allowed))}"
        )

"""BullMQ's key layout, its Lua scripts and the URL of a Redis backend.

The scripts are the ones shipped inside the ``bullmq`` wheel (the same Lua Node BullMQ runs), read
from the installed package and sent with ``EVALSHA``; they are loaded into Redis once and again
only when Redis answers ``NOSCRIPT`` (after a restart or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlunsplit

import msgpack  # type: ignore[import-untyped]
from redis.asyncio.connection import URL_QUERY_ARGUMENT_PARSERS, SSLConnection
from redis.asyncio.connection import parse_url as redis_py_parse_url

from qgen.runtime.errors import ConfigError
from qgen.runtime.names import validate_queue_name
from qgen.runtime.urls import mask_url, redact, split_url, strict_query

DEFAULT_PREFIX = "bull"
# A prefix becomes the head of every key; braces allowed for Redis Cluster hash tags.
_PREFIX_RE = re.compile(r"[A-Za-z0-9_.:{}-]{1,100}")

SCRIPT_FILES: dict[str, str] = {
    "addStandardJob": "addStandardJob-9.lua",
    "addDelayedJob": "addDelayedJob-6.lua",
    "addPrioritizedJob": "addPrioritizedJob-9.lua",
    "moveToActive": "moveToActive-11.lua",
    "moveToFinished": "moveToFinished-14.lua",
    "moveToDelayed": "moveToDelayed-11.lua",
    "retryJob": "retryJob-11.lua",
    "moveJobFromActiveToWait": "moveJobFromActiveToWait-9.lua",
    "moveStalledJobsToWait": "moveStalledJobsToWait-9.lua",
    "extendLocks": "extendLocks-1.lua",
    "updateProgress": "updateProgress-3.lua",
    "getStateV2": "getStateV2-8.lua",
}


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str


def _load_scripts() -> dict[str, Script]:
    spec = importlib.util.find_spec("bullmq")  # read its files; importing it is not needed
    if spec is None or spec.origin is None:
        raise ConfigError("the redis backend needs the bullmq package: pip install 'qgen[redis]'")
    base = Path(spec.origin).resolve().parent / "commands"
    out: dict[str, Script] = {}
    for name, file in SCRIPT_FILES.items():
        source = (base / file).read_text(encoding="utf-8")
        out[name] = Script(name, source, hashlib.sha1(source.encode()).hexdigest())
    return out


SCRIPTS: dict[str, Script] = _load_scripts()


_ENCODED: dict[str, bytes] = {}  # RESP of the strings every call repeats (queue keys, flags)


def remember(*values: str) -> None:
    for v in values:
        _ENCODED[v] = bulk(v)


def bulk(value: Any) -> bytes:
    if type(value) is str:
        hit = _ENCODED.get(value)
        if hit is not None:
            return hit
        b = value.encode()
    elif isinstance(value, bytes):
        b = value
    elif isinstance(value, str):
        b = value.encode()
    elif isinstance(value, int):
        b = b"%d" % value
    else:
        b = repr(value).encode()
    return b"$%d\r\n%b\r\n" % (len(b), b)


remember("returnvalue", "completed", "failedReason", "failed", "0", "1", "LPUSH", "")


@dataclass(frozen=True, slots=True)
class Encoded:
    """KEYS already in RESP form: the static key lists of the hot calls are encoded once."""

    blob: bytes
    n: int

    @classmethod
    def of(cls, keys: Sequence[str]) -> Encoded:
        return cls(b"".join(map(bulk, keys)), len(keys))


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """A parsed ``redis://`` / ``rediss://`` URL: the URL for redis-py (qgen's own query
    parameters removed) and the BullMQ key prefix (``?prefix=``, default ``bull``)."""

    client_url: str
    prefix: str


# Query parameters redis-py takes from a URL without failing later with a raw TypeError: its
# parsed ones (TLS ones only for rediss://) and the string options of its connections.
_REDIS_PARAMS = frozenset(URL_QUERY_ARGUMENT_PARSERS) - {"timeout"} | {"username", "password"}
_PLAIN_PARAMS = frozenset(p for p in _REDIS_PARAMS if not p.startswith("ssl_")) | {"prefix"}
_TLS_PARAMS = _PLAIN_PARAMS | set(inspect.signature(SSLConnection.__init__).parameters) - {
    "self",
    "kwargs",
}


def parse_url(url: str) -> RedisTarget:
    parts = split_url(url, "Redis")
    if parts.scheme not in ("redis", "rediss"):
        raise ConfigError(
            f"not a Redis URL: {mask_url(url)!r} (use redis://host:6379/0 or rediss://...)"
        )
    allowed = _TLS_PARAMS if parts.scheme == "rediss" else _PLAIN_PARAMS
    query = strict_query(url, allowed, "Redis")
    prefix = query.pop("prefix", DEFAULT_PREFIX)
    rest = list(query.items())
    if not _PREFIX_RE.fullmatch(prefix):
        raise ConfigError(
            f"invalid BullMQ key prefix {prefix!r}: 1 to 100 letters, digits or _ . : {{ }} -"
        )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    try:
        redis_py_parse_url(client_url)  # its own value checks (db, timeouts), now, not later
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {redact(str(exc), url)}") from None
    return RedisTarget(client_url, prefix)


_KEY_FIELDS = (
    "active",
    "base",
    "completed",
    "delayed",
    "events",
    "failed",
    "id",
    "limiter",
    "marker",
    "meta",
    "paused",
    "pc",
    "prioritized",
    "repeat",
    "stalled",
    "stalled_check",
    "wait",
    "waiting_children",
)


class QueueKeys:
    """Every key of one BullMQ queue: ``<prefix>:<queue>:<type>``."""

    __slots__ = ("_finished", "active_keys", "queue", *_KEY_FIELDS)

    def __init__(self, prefix: str, queue: str) -> None:
        validate_queue_name(queue)
        self.queue = queue
        self.base = f"{prefix}:{queue}:"  # job keys are base + job id
        b = self.base
        self.active, self.wait, self.paused = b + "active", b + "wait", b + "paused"
        self.completed, self.failed, self.delayed = b + "completed", b + "failed", b + "delayed"
        self.prioritized, self.pc, self.marker = b + "prioritized", b + "pc", b + "marker"
        self.meta, self.events, self.id = b + "meta", b + "events", b + "id"
        self.stalled, self.stalled_check = b + "stalled", b + "stalled-check"
        self.limiter, self.repeat = b + "limiter", b + "repeat"
        self.waiting_children = b + "waiting-children"
        remember(*(getattr(self, k) for k in _KEY_FIELDS), self.queue)
        remember(b + "metrics:completed", b + "metrics:failed")
        self.active_keys = Encoded.of(self.move_to_active())
        self._finished = {
            target: (
                Encoded.of(self.move_to_finished("", target)[:11]),
                Encoded.of(self.move_to_finished("", target)[12:]),
            )
            for target in ("completed", "failed")
        }

    def finished_keys(self, job_id: str, target: str) -> Encoded:
        """move_to_finished's KEYS, encoded from the cached static parts."""
        head, tail = self._finished[target]
        return Encoded(head.blob + bulk(self.base + job_id) + tail.blob, head.n + 1 + tail.n)

    def job(self, job_id: str) -> str:
        return self.base + job_id

    # KEYS lists in the order each script declares them.
    def add_standard(self) -> list[str]:
        return [
            self.wait,
            self.paused,
            self.meta,
            self.id,
            self.completed,
            self.delayed,
            self.active,
            self.events,
            self.marker,
        ]

    def add_delayed(self) -> list[str]:
        return [self.marker, self.meta, self.id, self.delayed, self.completed, self.events]

    def add_prioritized(self) -> list[str]:
        return [
            self.marker,
            self.meta,
            self.id,
            self.prioritized,
            self.delayed,
            self.completed,
            self.active,
            self.events,
            self.pc,
        ]

    def move_to_active(self) -> list[str]:
        return [
            self.wait,
            self.active,
            self.prioritized,
            self.events,
            self.stalled,
            self.limiter,
            self.delayed,
            self.paused,
            self.meta,
            self.pc,
            self.marker,
        ]

    def move_to_finished(self, job_id: str, target: str) -> list[str]:
        return [
            self.wait,
            self.active,
            self.prioritized,
            self.events,
            self.stalled,
            self.limiter,
            self.delayed,
            self.paused,
            self.meta,
            self.pc,
            self.completed if target == "completed" else self.failed,
            self.base + job_id,
            self.base + "metrics:" + target,
            self.marker,
        ]

    def move_to_delayed(self, job_id: str) -> list[str]:
        return [
            self.marker,
            self.active,
            self.prioritized,
            self.delayed,
            self.base + job_id,
            self.events,
            self.meta,
            self.stalled,
            self.wait,
            self.limiter,
            self.pc,
        ]

    def retry_job(self, job_id: str) -> list[str]:
        return [
            self.active,
            self.wait,
            self.paused,
            self.base + job_id,
            self.meta,
            self.events,
            self.delayed,
            self.prioritized,
            self.pc,
            self.marker,
            self.stalled,
        ]

    def move_active_to_wait(self) -> list[str]:
        return [
            self.active,
            self.wait,
            self.stalled,
            self.paused,
            self.meta,
            self.limiter,
            self.prioritized,
            self.marker,
            self.events,
        ]

    def move_stalled(self) -> list[str]:
        return [
            self.stalled,
            self.wait,
            self.active,
            self.stalled_check,
            self.meta,
            self.paused,
            self.marker,
            self.events,
            self.repeat,
        ]

    def get_state(self) -> list[str]:
        return [
            self.completed,
            self.failed,
            self.delayed,
            self.active,
            self.wait,
            self.paused,
            self.waiting_children,
            self.prioritized,
        ]


# One script call: (script name, KEYS, ARGV).
Call = tuple[str, "Sequence[str] | Encoded", Sequence[Any]]


def pack(value: Any) -> bytes:
    """msgpack, as BullMQ's scripts unpack their option arguments (cmsgpack)."""
    out: bytes = msgpack.packb(value, use_bin_type=True)
    return out

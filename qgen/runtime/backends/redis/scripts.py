"""BullMQ's Lua scripts, and a script call as the bytes Redis reads.

The scripts are the ones shipped inside the ``bullmq`` wheel (the same Lua Node BullMQ runs),
read from the installed package and sent with ``EVALSHA``; they are loaded into Redis once and
again only when Redis answers ``NOSCRIPT`` (after a restart or ``SCRIPT FLUSH``). Calls are
encoded to RESP here directly: redis-py's generic packer costs about ten times more per call, and
the strings every call repeats (queue keys, flags) are encoded once.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]

from qgen.runtime.errors import ConfigError

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
    # the operator API (ops.py)
    "getCounts": "getCounts-1.lua",
    "pause": "pause-7.lua",
    "reprocessJob": "reprocessJob-9.lua",
    "removeJob": "removeJob-2.lua",
    "cleanJobsInSet": "cleanJobsInSet-3.lua",
    "updateData": "updateData-1.lua",
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


def register(name: str, source: str) -> None:
    """Add one of qgen's own Lua scripts (operator API: ``ops_lua.py``) to :data:`SCRIPTS`, so
    it is loaded and called like BullMQ's."""
    SCRIPTS[name] = Script(name, source, hashlib.sha1(source.encode()).hexdigest())


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


# One script call: (script name, KEYS, ARGV).
Call = tuple[str, "Sequence[str] | Encoded", Sequence[Any]]


def encode_evalsha(call: Call) -> bytes:
    """RESP for one ``EVALSHA``."""
    name, keys, args = call
    if isinstance(keys, Encoded):
        n_keys, key_blob = keys.n, keys.blob
    else:
        n_keys, key_blob = len(keys), b"".join(map(bulk, keys))
    head = b"*%d\r\n$7\r\nEVALSHA\r\n$40\r\n%b\r\n" % (
        3 + n_keys + len(args),
        SCRIPTS[name].sha.encode(),
    )
    return b"".join([head, bulk(n_keys), key_blob, *map(bulk, args)])


def pack(value: Any) -> bytes:
    """msgpack, as BullMQ's scripts unpack their option arguments (cmsgpack)."""
    out: bytes = msgpack.packb(value, use_bin_type=True)
    return out

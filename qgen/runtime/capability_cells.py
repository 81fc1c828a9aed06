"""The cells of the capability table: how a backend supports one config key or feature."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Level(enum.StrEnum):
    NATIVE = "native"
    EMULATED = "emulated"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class SameAs:
    """A default that is the value of another key of the same queue."""

    key: str


@dataclass(frozen=True, slots=True)
class Support:
    level: Level
    note: str  # native: the backend option it maps to; emulated: how; unsupported: why
    # The value used when a queue's config leaves the key out (None: no value, e.g. no
    # dead-letter queue). Unsupported keys have none: the settings take the first supported
    # backend's default there, so they are complete, but the backend never reads it.
    default: Any = None

    @property
    def supported(self) -> bool:
        return self.level is not Level.UNSUPPORTED


def N(note: str, default: Any = None) -> Support:
    return Support(Level.NATIVE, note, default)


def E(note: str, default: Any = None) -> Support:
    return Support(Level.EMULATED, note, default)


def U(note: str) -> Support:
    return Support(Level.UNSUPPORTED, note)

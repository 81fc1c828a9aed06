# ruff: noqa: UP042  (the corpus spells types the old ways on purpose)
import enum


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    """How loud."""

    LOW = 1
    HIGH = 5


class Mode(enum.StrEnum):
    FAST = enum.auto()
    SAFE = enum.auto()


class Counted(enum.Enum):
    ONE = enum.auto()
    TWO = enum.auto()


class Mixed(enum.Enum):
    A = 1
    B = "b"
    ALIAS_A = 1

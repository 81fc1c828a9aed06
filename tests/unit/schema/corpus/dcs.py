import dataclasses
from dataclasses import dataclass, field


@dataclass
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    label: str = field(default="p")


@dataclass(frozen=True)
class Documented:
    """A documented dataclass."""

    size: float


@dataclasses.dataclass
class Point3(Point):
    z: int = 0

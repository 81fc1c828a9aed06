# ruff: noqa: UP007, UP035, UP045  (the corpus spells types the old ways on purpose)
"""Builtin, stdlib and typing constructs, as plain aliases."""

import datetime
import decimal
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, NewType, Optional, Union

from pydantic import Field
from typing_extensions import TypeAlias

Str = str
Int = int
Float = float
Bool = bool
Bytes = bytes
NoneType_ = None
AnyT = Any
DateTime = datetime.datetime
Date = datetime.date
Time = datetime.time
Delta = datetime.timedelta
Uid = uuid.UUID
Dec = decimal.Decimal
ListInt = list[int]
BareList = list
BareDict = dict
DictStrFloat = dict[str, float]
DictAny = dict[str, Any]
SetStr = set[str]
FrozenInt = frozenset[int]
TupleFixed = tuple[int, str, bool]
TupleVar = tuple[int, ...]
TupleEmpty = tuple[()]
SeqInt = Sequence[int]
MapStrInt = Mapping[str, int]
OptInt = Optional[int]
IntOrNone = int | None
UnionIS = Union[int, str]
UnionNested = Union[int, Union[str, None]]
UnionDup = int | str | int
Lit1 = Literal["a"]
LitMany = Literal["a", "b", "c"]
LitMixed = Literal[1, "x"]
LitNone = Literal[None]
LitInts = Literal[1, 2, 3]
PositiveInt = Annotated[int, Field(gt=0, le=10)]
Name: TypeAlias = Annotated[str, Field(min_length=2, max_length=20, pattern="^[a-z]+$")]
Described = Annotated[float, Field(description="a ratio", ge=0.0, lt=1.0, multiple_of=0.5)]
ListOfNames = list[Name]
NamesMinMax = Annotated[list[str], Field(min_length=1, max_length=3)]
NestedContainers = dict[str, list[tuple[int, Optional[str]]]]
DocOnly = Annotated[int, "just documentation"]
ForwardList = list["int"]
UserId = NewType("UserId", int)
IdQueue = deque[UserId]

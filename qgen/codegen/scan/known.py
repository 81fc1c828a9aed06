"""JSON Schemas pydantic gives for well-known types, by canonical dotted name."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

SIMPLE: dict[str, Schema] = {
    "builtins.str": {"type": "string"},
    "builtins.int": {"type": "integer"},
    "builtins.float": {"type": "number"},
    "builtins.bool": {"type": "boolean"},
    "builtins.bytes": {"format": "binary", "type": "string"},
    "builtins.object": {},
    "typing.Any": {},
    "builtins.list": {"items": {}, "type": "array"},
    "typing.List": {"items": {}, "type": "array"},
    "builtins.tuple": {"items": {}, "type": "array"},
    "builtins.set": {"items": {}, "type": "array", "uniqueItems": True},
    "builtins.frozenset": {"items": {}, "type": "array", "uniqueItems": True},
    "builtins.dict": {"additionalProperties": True, "type": "object"},
    "typing.Dict": {"additionalProperties": True, "type": "object"},
    "datetime.datetime": {"format": "date-time", "type": "string"},
    "datetime.date": {"format": "date", "type": "string"},
    "datetime.time": {"format": "time", "type": "string"},
    "datetime.timedelta": {"format": "duration", "type": "string"},
    "uuid.UUID": {"format": "uuid", "type": "string"},
    # pydantic's schema, each member marked (the mark survives a union's flattening): JSON
    # Schema has no decimal type, and the generated model must hold a Decimal again.
    "decimal.Decimal": {
        "anyOf": [
            {"type": "number", "x-qgen-type": "decimal"},
            {"type": "string", "x-qgen-type": "decimal"},
        ]
    },
    "pathlib.Path": {"format": "path", "type": "string"},
    "ipaddress.IPv4Address": {"format": "ipv4", "type": "string"},
    "ipaddress.IPv6Address": {"format": "ipv6", "type": "string"},
    # pydantic's own constrained and special types
    "pydantic.PositiveInt": {"exclusiveMinimum": 0, "type": "integer"},
    "pydantic.NegativeInt": {"exclusiveMaximum": 0, "type": "integer"},
    "pydantic.NonNegativeInt": {"minimum": 0, "type": "integer"},
    "pydantic.NonPositiveInt": {"maximum": 0, "type": "integer"},
    "pydantic.PositiveFloat": {"exclusiveMinimum": 0, "type": "number"},
    "pydantic.NegativeFloat": {"exclusiveMaximum": 0, "type": "number"},
    "pydantic.NonNegativeFloat": {"minimum": 0, "type": "number"},
    "pydantic.NonPositiveFloat": {"maximum": 0, "type": "number"},
    "pydantic.FiniteFloat": {"type": "number"},
    "pydantic.StrictStr": {"type": "string"},
    "pydantic.StrictInt": {"type": "integer"},
    "pydantic.StrictFloat": {"type": "number"},
    "pydantic.StrictBool": {"type": "boolean"},
    "pydantic.StrictBytes": {"format": "binary", "type": "string"},
    "pydantic.AnyUrl": {"format": "uri", "minLength": 1, "type": "string"},
    "pydantic.AnyHttpUrl": {"format": "uri", "minLength": 1, "type": "string"},
    "pydantic.HttpUrl": {"format": "uri", "maxLength": 2083, "minLength": 1, "type": "string"},
    "pydantic.SecretStr": {"format": "password", "type": "string", "writeOnly": True},
    "pydantic.SecretBytes": {"format": "password", "type": "string", "writeOnly": True},
    "pydantic.AwareDatetime": {"format": "date-time", "type": "string"},
    "pydantic.NaiveDatetime": {"format": "date-time", "type": "string"},
    "pydantic.PastDate": {"format": "date", "type": "string"},
    "pydantic.FutureDate": {"format": "date", "type": "string"},
    "pydantic.UUID4": {"format": "uuid4", "type": "string"},
    "pydantic.JsonValue": {},
}
LISTS = {
    "builtins.list",
    "typing.List",
    "typing.Sequence",
    "typing.MutableSequence",
    "typing.Deque",
    "collections.deque",
}
SETS = {
    "builtins.set",
    "builtins.frozenset",
    "typing.Set",
    "typing.FrozenSet",
    "typing.AbstractSet",
    "typing.MutableSet",
}
DICTS = {"builtins.dict", "typing.Dict", "typing.Mapping", "typing.MutableMapping"}
TUPLES = {"builtins.tuple", "typing.Tuple"}
WRAPPERS = {"typing.Required", "typing.NotRequired", "typing.ReadOnly"}

"""Issue 10 item 11: payloads JSON cannot hold (NaN, infinities, lone surrogates, NUL, objects,
nesting too deep, integers too long) are refused at the client with ValidationFailed naming
the place, the same on every backend, before anything is written; ``Any`` fields never turn
NaN into null silently."""

from __future__ import annotations

from typing import Any

import pytest
from hostile_app.jobs import Item, seen
from hostile_harness import HostileCase, eventually, worker

from qgen.runtime.errors import ValidationFailed


def _deep(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE: list[tuple[Any, str]] = [
    ({"key": "a", "amount": float("nan")}, "data.amount: nan is not a JSON number"),
    (Item(key="b", amount=float("inf")), "data.amount: inf is not a JSON number"),
    ({"key": "c", "value": float("nan")}, "data.value: nan is not a JSON number"),
    ({"key": "d", "value": {"x": [1, float("-inf")]}}, "data.value.x.1: -inf is not a JSON"),
    (Item(key="e", value=[float("nan")]), "data.value.0: nan is not a JSON number"),
    ({"key": "lone \ud800"}, "data.key: contains a lone surrogate"),
    ({"key": "f", "value": {"k\udfff": 1}}, "key 'k\\udfff' contains a lone surrogate"),
    ({"key": "nul\x00"}, "data.key: contains a NUL character"),
    ({"key": "g", "value": ["ok", "x\x00"]}, "data.value.1: contains a NUL character"),
    ({"key": "h", "value": object()}, "data: cannot be serialized as JSON"),
    ({"key": "i", "value": _deep(10_000)}, "nested deeper than 200 levels"),
    ({"key": "j", "value": 10**5000}, "data.value: integer of more than 4000 digits"),
]


async def test_hostile_payloads_are_refused_alike(backend: HostileCase) -> None:
    client = backend.client()
    queue = client.queue("h-record")
    try:
        for data, message in HOSTILE:
            with pytest.raises(ValidationFailed) as info:
                await queue.add(data)
            assert message in str(info.value), str(info.value)
            assert info.value.queue == "h-record"
            with pytest.raises(ValidationFailed):  # one bad item: nothing of the batch is sent
                await queue.add_many([{"key": "batch-mate"}, data])
        deep_ok = _deep(150)
        await queue.add({"key": "marker", "value": {"deep": deep_ok, "n": 10**300, "s": "é\n"}})
        async with worker(backend, ["h-record"]) as task:
            await eventually(lambda: seen("h-record"), lambda s: "marker" in s, worker_task=task)
        assert seen("h-record") == ["marker"]  # nothing refused was written
    finally:
        await client.close()

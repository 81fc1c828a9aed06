"""Data of every schema kind reaches the function typed, and its result comes back typed: the
user's own type inside the job, the generated model's type out of the generated client."""

from __future__ import annotations

import datetime as dt
import typing
import uuid
from decimal import Decimal
from typing import Any

import pytest
from contract_app import jobs
from contract_app.kinds import Color, Item, Order, Point, Tree
from contract_harness import BackendCase, as_json, eventually, generated_client, worker
from pydantic import TypeAdapter

from qgen import ValidationFailed
from qgen.runtime.capabilities import Feature
from qgen.runtime.wiring import registered

WHEN = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
ORDER = Order(
    id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    items=[Item(sku="a"), Item(sku="b", qty=3)],
    tags={"x", "y"},
    meta={"k": 1},
    pair=(7, "seven"),
    created=WHEN,
    day=dt.date(2026, 2, 3),
    at=dt.time(4, 5, 6, 789),
    price=Decimal("12.50"),
    note=None,
    color=Color.GREEN,
    kind="wholesale",
)
CASES: list[tuple[str, Any]] = [
    ("echo-order", ORDER),
    ("echo-tree", Tree(name="root", children=[Tree(name="a", children=[Tree(name="b")])])),
    ("echo-mail", {"to": "a@example.com", "subject": "hi", "cc": ["c@example.com"]}),
    ("echo-mail", {"to": "a@example.com", "subject": "no cc"}),
    ("echo-point", Point(1.5, -2.0, "p")),
    ("echo-color", Color.GREEN),
    ("echo-size", "m"),
    ("echo-union", 7),
    ("echo-union", Item(sku="u", qty=2)),
    ("echo-items", [Item(sku="a"), Item(sku="b", qty=3)]),
    ("echo-counts", {"a": 1, "b": 2}),
    ("echo-ids", {3, 1, 2}),
    (
        "echo-scalars",
        (WHEN, dt.date(2026, 1, 1), dt.time(23, 59), uuid.UUID(int=5), Decimal("0.1")),
    ),
    ("echo-maybe", None),
    ("echo-maybe", Item(sku="m")),
    ("echo-positive", 5),
]


async def test_every_schema_kind_round_trips(backend: BackendCase) -> None:
    queues = sorted({q for q, _ in CASES})
    async with backend.client() as client:
        handles = [(q, v, await client.add(q, v)) for q, v in CASES]
        async with worker(backend, queues) as task:
            for queue, value, handle in handles:
                seen = await eventually(
                    lambda q=queue, h=handle: _received(q, h.id),  # type: ignore[misc]
                    lambda got: got is not _MISSING,
                    what=f"{queue} job to run",
                    worker_task=task,
                )
                assert seen == value, queue
                assert type(seen) is type(value), queue
                if backend.supports(Feature.RESULTS):
                    result = await handle.result(timeout=30)
                    # the generated output type, holding the same value
                    output = TypeAdapter(generated_client().QUEUES[queue].output_type)
                    expected = output.validate_python(as_json(value))
                    assert result == expected, queue
                    assert type(result) is type(expected), queue
                    # nothing lost on the way: read back as the user's own type, it is the value
                    sent_back = output.dump_python(result, mode="json", exclude_unset=True)
                    assert _user_type(queue).validate_python(sent_back) == value, queue


_MISSING: Any = object()


def _user_type(queue: str) -> TypeAdapter[Any]:
    """The type the queue's function takes (and returns: the echo functions return their
    input), from the user's code."""
    func = registered()[queue].func
    return TypeAdapter(typing.get_type_hints(func, include_extras=True)["data"])


async def _received(queue: str, job_id: str) -> Any:
    for seen_id, _, data, _, _ in jobs.SEEN[queue]:
        if seen_id == job_id:
            return data
    return _MISSING


@pytest.mark.parametrize(
    ("queue", "value"),
    [("echo-positive", -1), ("echo-size", "xl"), ("echo-order", {"id": "nope"}), ("echo-ids", 5)],
)
async def test_client_refuses_invalid_data(backend: BackendCase, queue: str, value: Any) -> None:
    async with backend.client() as client:
        with pytest.raises(ValidationFailed) as info:
            await client.add(queue, value)
        assert info.value.errors

"""What the scanner puts into QueueSpec / FunctionSpec: normalized config, middleware paths,
docs, signature details, and schemas shared between functions."""

from __future__ import annotations

from collections.abc import Callable

from scan_helpers import Files, messages

from qgen.codegen.scan import ScanResult

Project = Callable[[Files], ScanResult]


def test_config_normalized_middleware_tags_docs(project: Project) -> None:
    result = project(
        {
            "shop/mw.py": "async def audit(services, interaction, next_):\n    await next_()\n",
            "shop/jobs.py": """
                import datetime
                from datetime import timedelta as td
                from qgen import QueueWorkerConfig, sessionless_func, wire_queue_worker
                from qgen.runtime.wiring import QueueWorkerConfig as QWC
                from shop import mw
                from shop.mw import audit as aud

                @sessionless_func(
                    auth=False,
                    docs={"summary": "Pay", "description": "Long.", "tags": ["p"], "errors": ["E"]},
                )
                def pay(services, data: "int", interaction=None) -> "str": ...

                wire_queue_worker(
                    queue="a",
                    func=pay,
                    config={
                        "timeout": td(minutes=2),
                        "poll_interval": datetime.timedelta(seconds=1.5),
                        "backoff": {"type": "fixed", "delay": td(seconds=2)},
                        "remove_on_complete": True,
                    },
                    middleware=[mw.audit, aud],
                    tags=("x", "y"),
                )
                wire_queue_worker(queue="b", func=pay, config=QueueWorkerConfig(attempts=4))
                wire_queue_worker(queue="c", func=pay, config=QWC(name="w"), tags=[])
                wire_queue_worker(queue="d", func=pay, config=None)
            """,
        }
    )
    assert messages(result) == []
    a, b, c, d = result.project.queues
    assert a.config == {
        "backoff": {"delay": 2000, "type": "fixed"},
        "poll_interval": 1500,
        "remove_on_complete": True,
        "timeout": 120,
    }
    assert a.middleware == ("shop.mw:audit", "shop.mw:audit")
    assert a.tags == ("x", "y")
    assert (b.config, c.config, d.config) == ({"attempts": 4}, {"name": "w"}, {})
    f = a.function
    assert f.docs == {"summary": "Pay", "description": "Long.", "tags": ["p"], "errors": ["E"]}
    assert (f.input_type, f.output_type) == ("int", "str")
    assert f.input_schema == {"type": "integer"}
    assert f.output_schema == {"type": "string"}
    assert f.takes_interaction and not f.is_async
    assert f.location is not None and (f.location.path, f.location.line) == ("shop/jobs.py", 12)
    assert (a.location.line, a.location.col) == (14, 1)
    assert a.accessor == "a" and a.wiring_module == "shop.jobs"
    assert result.project.wiring_modules == ("shop.jobs",)


def test_shared_definitions_between_functions(project: Project) -> None:
    result = project(
        {
            "shop/jobs.py": """
                from pydantic import BaseModel
                from qgen import sessionless_func, wire_queue_worker

                class Node(BaseModel):
                    kids: list["Node"] = []

                class Broken(BaseModel):
                    when: object = object()

                @sessionless_func
                def one(services, data: Node) -> list[Node]: ...

                @sessionless_func
                def two(services, data: list[Node]) -> Node: ...

                @sessionless_func
                def three(services, data: Broken) -> None: ...

                @sessionless_func
                def four(services, data: int) -> Broken: ...

                wire_queue_worker(queue="one", func=one)
                wire_queue_worker(queue="two", func=two)
                wire_queue_worker(queue="three", func=three)
                wire_queue_worker(queue="four", func=four)
            """,
        }
    )
    assert messages(result) == [
        "shop/jobs.py:8:20: QG203 default object() is not a literal qgen can evaluate"
    ]
    one, two = result.project.queues
    node = {
        "properties": {
            "kids": {
                "default": [],
                "items": {"$ref": "#/$defs/Node"},
                "title": "Kids",
                "type": "array",
            }
        },
        "title": "Node",
        "type": "object",
    }
    as_root = {"$defs": {"Node": node}, "$ref": "#/$defs/Node"}
    as_list = {"$defs": {"Node": node}, "items": {"$ref": "#/$defs/Node"}, "type": "array"}
    assert one.function.input_schema == as_root == two.function.output_schema
    assert one.function.output_schema == as_list == two.function.input_schema


def test_async_function_without_return_annotation(project: Project) -> None:
    result = project(
        {
            "shop/jobs.py": """
                from qgen import sessionless_func, wire_queue_worker

                @sessionless_func()
                async def fire(services, data: dict[str, int]):
                    return None

                wire_queue_worker(queue="fire.and-forget", func=fire)
            """,
        }
    )
    assert messages(result) == []
    (q,) = result.project.queues
    assert q.accessor == "fire_and_forget"
    assert q.function.is_async and not q.function.takes_interaction
    assert (q.function.output_type, q.function.output_schema) == ("None", None)


def test_retention_with_ages_is_read_and_checked(project: Project) -> None:
    """remove_on_* as BullMQ's KeepJobs (issue 14): ages as seconds or timedeltas; a bad one
    is a QG111 at the value, as at start-up."""
    result = project(
        {
            "shop/jobs.py": """
                from datetime import timedelta
                from qgen import sessionless_func, wire_queue_worker

                @sessionless_func
                def job(services, data: "int") -> None: ...

                wire_queue_worker(
                    queue="a",
                    func=job,
                    config={
                        "remove_on_complete": {"age": timedelta(hours=1), "count": 10},
                        "remove_on_fail": {"age": 600},
                    },
                )
                wire_queue_worker(queue="b", func=job, config={"remove_on_fail": {"age": -1}})
                wire_queue_worker(queue="c", func=job, config={"remove_on_complete": {"n": 1}})
            """,
        }
    )
    assert result.project.queues[0].config == {
        "remove_on_complete": {"age": 3600, "count": 10},
        "remove_on_fail": {"age": 600},
    }
    found = messages(result)
    assert len(found) == 2, found
    assert "QG111 remove_on_fail.age must be >= 0, not -1" in found[0]
    assert "QG111 remove_on_complete takes the keys 'age' and/or 'count'" in found[1]

"""Import following: aliases, module aliases, relative imports, re-exports and chains."""

from __future__ import annotations

from collections.abc import Callable

from scan_helpers import Files, messages

from qgen.codegen.scan import ScanResult

Project = Callable[[Files], ScanResult]

MODELS = """
from pydantic import BaseModel

class Order(BaseModel):
    id: str
    amount: int = 0
"""
ORDER_SCHEMA = {
    "properties": {
        "id": {"title": "Id", "type": "string"},
        "amount": {"default": 0, "title": "Amount", "type": "integer"},
    },
    "required": ["id"],
    "title": "Order",
    "type": "object",
}


def test_aliased_decorator_and_wire_and_model(project: Project) -> None:
    result = project(
        {
            "shop/models.py": MODELS,
            "shop/jobs.py": """
                from qgen import sessionless_func as job
                from shop.models import Order as O

                @job
                async def pay(services, data: O) -> None: ...
            """,
            "shop/queues.py": """
                from qgen import wire_queue_worker as wire
                from shop.jobs import pay as p

                wire(queue="pay", func=p)
            """,
        }
    )
    assert messages(result) == []
    (queue,) = result.project.queues
    assert queue.function.import_path == "shop.jobs:pay"
    assert queue.function.input_schema == ORDER_SCHEMA
    assert queue.function.input_type == "O"
    assert queue.function.output_schema is None
    assert queue.function.output_type == "None"
    assert queue.wiring_module == "shop.queues"


def test_module_imports_and_qualified_decorators(project: Project) -> None:
    result = project(
        {
            "shop/models.py": MODELS,
            "shop/jobs.py": """
                import qgen
                import qgen.runtime.functions as fmod
                import shop.models as m
                import shop.models

                @qgen.sessionless_func(docs={"summary": "one"})
                def one(services, data: m.Order) -> shop.models.Order: ...

                @fmod.sessionless_func
                def two(services, data: shop.models.Order, interaction) -> None: ...
            """,
            "shop/queues.py": """
                import qgen.runtime.wiring
                import shop.jobs as j

                qgen.runtime.wiring.wire_queue_worker(queue="one", func=j.one)
                qgen.runtime.wiring.wire_queue_worker(queue="two", func=j.two)
            """,
        }
    )
    assert messages(result) == []
    one, two = result.project.queues
    assert one.function.input_schema == ORDER_SCHEMA
    assert one.function.output_schema == ORDER_SCHEMA
    assert one.function.docs == {"summary": "one"}
    assert not one.function.takes_interaction and not one.function.is_async
    assert two.function.takes_interaction


def test_relative_imports_and_reexport_chain(project: Project) -> None:
    result = project(
        {
            "shop/models/__init__.py": "from .orders import *\n",
            "shop/models/orders.py": MODELS,
            "shop/api/__init__.py": "from ..models import Order as PublicOrder\n",
            "shop/functions/__init__.py": "from .pay import pay as charge\n",
            "shop/functions/pay.py": """
                from qgen import sessionless_func
                from ..api import PublicOrder
                from . import helpers

                @sessionless_func
                async def pay(services, data: PublicOrder) -> helpers.Result: ...
            """,
            "shop/functions/helpers.py": """
                from pydantic import BaseModel
                from .. import models

                class Result(BaseModel):
                    order: models.Order
            """,
            "shop/queues.py": """
                from qgen import wire_queue_worker
                from shop import functions
                from .functions import charge

                wire_queue_worker(queue="a", func=functions.charge)
                wire_queue_worker(queue="b", func=charge)
            """,
        }
    )
    assert messages(result) == []
    a, b = result.project.queues
    assert a.function == b.function
    assert a.function.module == "shop.functions.pay"
    assert a.function.input_schema == ORDER_SCHEMA
    assert a.function.output_schema == {
        "$defs": {"Order": ORDER_SCHEMA},
        "properties": {"order": {"$ref": "#/$defs/Order"}},
        "required": ["order"],
        "title": "Result",
        "type": "object",
    }


def test_same_class_name_in_two_modules_gets_module_qualified_defs(project: Project) -> None:
    result = project(
        {
            "shop/a.py": "from pydantic import BaseModel\nclass Item(BaseModel):\n    a: int\n",
            "shop/b.py": "from pydantic import BaseModel\nclass Item(BaseModel):\n    b: int\n",
            "shop/jobs.py": """
                from pydantic import BaseModel
                from qgen import sessionless_func, wire_queue_worker
                from shop import a, b

                class Both(BaseModel):
                    x: a.Item
                    y: b.Item

                @sessionless_func
                def job(services, data: Both) -> None: ...

                wire_queue_worker(queue="q", func=job)
            """,
        }
    )
    assert messages(result) == []
    schema = result.project.queues[0].function.input_schema
    assert sorted(schema["$defs"]) == ["shop__a__Item", "shop__b__Item"]
    assert schema["properties"]["x"] == {"$ref": "#/$defs/shop__a__Item"}


def test_out_package_is_not_scanned(project: Project) -> None:
    result = project({"shop/generated/__init__.py": "def broken(:\n"})
    assert messages(result) == []


def test_missing_names_in_scanned_packages(project: Project) -> None:
    result = project(
        {
            "shop/models.py": MODELS,
            "shop/jobs.py": """
                from qgen import sessionless_func, wire_queue_worker
                from shop.models import Nope as N
                from shop.gone import Thing
                import shop.generated.models as gen

                @sessionless_func
                def a(services, data: N) -> None: ...

                @sessionless_func
                def b(services, data: Thing) -> gen.Out: ...

                wire_queue_worker(queue="a", func=a)
                wire_queue_worker(queue="b", func=b)
            """,
        }
    )
    assert messages(result) == [
        "shop/jobs.py:7:23: QG002 cannot resolve N (shop.models.Nope does not exist)",
        "shop/jobs.py:10:23: QG002 cannot resolve Thing (shop.gone.Thing does not exist)",
        "shop/jobs.py:10:33: QG002 cannot resolve gen.Out (shop.generated.models does not exist)",
    ]

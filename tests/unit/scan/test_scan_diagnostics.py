"""Every diagnostic code the scanner emits, with its exact ``path:line:col: QG### message``,
all collected in one run (never only the first, never a traceback)."""

from __future__ import annotations

from collections.abc import Callable

from scan_helpers import Files, messages

from qgen.codegen.checks import backend_warnings
from qgen.codegen.scan import ScanResult

Project = Callable[[Files], ScanResult]

FUNCS = """
import qgen
from qgen import sessionless_func as sf
from typing import Callable, TypedDict
from pydantic import BaseModel, Field
from ..models import Order

class Bad(TypedDict):
    x: int

class NotAModel:
    pass

class Weird(BaseModel):
    at: int = Field(default_factory=list, discriminator="kind")
    when: int = compute()

@sf
async def pay(services, data: Order) -> Order:
    return data

@qgen.sessionless_func(auth=True)
def authy(services, data: Order): ...

@sf(permissions=["admin"])
def permy(services, data: Order): ...

def plain(services, data: Order): ...

@sf
def noann(services, data): ...

@sf
def onearg(services): ...

@sf
def badtd(services, data: Bad) -> None: ...

@sf
def notmodel(services, data: NotAModel) -> Callable[[], int]: ...

@sf
def missing(services, data: Nope) -> None: ...

@sf
def weird(services, data: Weird) -> None: ...
"""

MODELS = "from pydantic import BaseModel\nclass Order(BaseModel):\n    id: str\n"

QUEUES = """
from qgen import wire_queue_worker as wire, QueueWorkerConfig
from shop.functions.pay import *

wire(queue="pay", func=pay, config={"attempts": 2})
wire(queue="pay", func=pay)
wire(queue="pay_2", func=pay)
wire(queue="pay-2", func=pay)
wire(queue="bad name", func=pay)
wire(queue="x1", func=lambda s, d: None)
wire(queue="x2", func=authy)
wire(queue="x3", func=permy)
wire(queue="x4", func=plain)
wire(queue="x5", func=noann)
wire(queue="x6", func=onearg)
wire(queue="x7", func=badtd)
wire(queue="x8", func=notmodel)
wire(queue="x9", func=missing)
wire(queue="x10", func=pay, config=make_config())
wire(queue="x11", func=pay, config={"bogus": 1, "attempts": "3", "batch_size": 0})
wire(queue="x12", func=pay, middleware=[print])
wire(queue="x13", func=pay, tags=["a", 1])
wire(queue="x14", func=pay, config=QueueWorkerConfig(dead_letter="no good"))
wire(queue="x15", func=weird)
"""


def test_every_code_collected_with_exact_text(project: Project) -> None:
    result = project(
        {
            "shop/models.py": MODELS,
            "shop/functions/__init__.py": "",
            "shop/functions/pay.py": FUNCS,
            "shop/queues.py": QUEUES,
            "shop/broken.py": "x = 1\ndef f(:\n    pass\n",
        }
    )
    p = "shop/functions/pay.py"
    q = "shop/queues.py"
    assert messages(result) == [
        "shop/broken.py:2:7: QG001 syntax error: invalid syntax",
        f"{p}:14:9: QG203 discriminator 'kind' needs a union of models tagged by Literal kind",
        f"{p}:15:17: QG203 default compute() is not a literal qgen can evaluate",
        f"{p}:21:29: QG106 authy: auth=True on a function wired to a queue; queue jobs carry no"
        " user session",
        f"{p}:24:17: QG106 permy: permissions on a function wired to a queue; queue jobs carry"
        " no user session",
        f"{p}:30:21: QG108 noann: parameter data needs a type annotation",
        f"{p}:33:1: QG107 onearg must take (services, data) or (services, data, interaction)",
        f"{p}:36:27: QG202 Bad is a typing.TypedDict, which pydantic does not validate on Python"
        " < 3.12; use typing_extensions.TypedDict",
        f"{p}:39:30: QG201 NotAModel is not a pydantic model, TypedDict, dataclass or Enum",
        f"{p}:39:44: QG201 unsupported annotation Callable[[], int]",
        f"{p}:42:29: QG002 cannot resolve Nope",
        f"{q}:5:6: QG102 queue 'pay' is already wired at shop/queues.py:4",
        f"{q}:7:6: QG103 queues 'pay_2' and 'pay-2' both map to the client accessor 'pay_2'",
        f"{q}:8:12: QG101 queue must be a string literal matching"
        " [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, not 'bad name'",
        f"{q}:9:23: QG104 func=lambda s, d: None cannot be resolved statically to a function of"
        " the scanned packages",
        f"{q}:12:23: QG105 shop.functions.pay.plain is wired to a queue but not decorated with"
        " @sessionless_func",
        f"{q}:18:36: QG109 config must be a literal dict or a QueueWorkerConfig(...) call",
        f"{q}:19:37: QG110 unknown config key 'bogus' (known keys: attempts, autorun, backoff,"
        " batch_size, dead_letter, drain_delay, lock_duration, max_stalled_count, name,"
        " poll_interval, prefetch, remove_on_complete, remove_on_fail, timeout,"
        " visibility_timeout)",
        f"{q}:19:61: QG111 attempts must be an integer, not '3'",
        f"{q}:19:80: QG111 batch_size must be >= 1, not 0",
        f"{q}:20:41: QG112 middleware print cannot be resolved statically to a function",
        f"{q}:21:34: QG111 tags must be a list of string literals",
        f"{q}:22:66: QG113 dead_letter must be a valid queue name, not 'no good'",
    ]
    assert [q.name for q in result.project.queues] == ["pay", "pay_2"]


def test_unresolvable_func_and_non_literal_queue(project: Project) -> None:
    result = project(
        {
            "shop/queues.py": """
                from qgen import wire_queue_worker
                from elsewhere import job
                NAME = "q"

                wire_queue_worker(queue=NAME, func=job)
            """,
        }
    )
    assert messages(result) == [
        "shop/queues.py:5:25: QG101 queue must be a string literal matching"
        " [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, not NAME",
        "shop/queues.py:5:36: QG104 func=job cannot be resolved statically to a function of the"
        " scanned packages",
    ]


def test_backend_warnings(project: Project) -> None:
    result = project(
        {
            "shop/jobs.py": """
                from qgen import sessionless_func, wire_queue_worker

                @sessionless_func
                def job(services, data: int) -> str: ...

                @sessionless_func
                def quiet(services, data: int) -> None: ...

                wire_queue_worker(queue="q", func=job, config={"poll_interval": 100})
                wire_queue_worker(queue="quiet", func=quiet)
            """,
        }
    )
    assert messages(result) == []
    diags, texts = backend_warnings(result.project)
    assert [d.format() for d in diags] == [
        "shop/jobs.py:9:1: QG301 warning: queue 'q': config poll_interval is ignored by redis:"
        " BullMQ workers block on Redis and are pushed new jobs; they never poll",
        "shop/jobs.py:9:1: QG301 warning: queue 'q': config poll_interval is ignored by sqs:"
        " SQS workers long-poll; see drain_delay",
        "shop/jobs.py:9:1: QG302 warning: queue 'q': job returns str but sqs stores no results:"
        " SQS deletes a processed message; there is nowhere to keep a result",
    ]
    assert texts["quiet"] == {"postgres": [], "redis": [], "sqlite": [], "sqs": []}
    assert texts["q"]["sqlite"] == []
    assert len(texts["q"]["sqs"]) == 2


def test_absurd_nesting_is_a_syntax_error_not_a_crash(project: Project) -> None:
    deep = "list[" * 1000 + "int" + "]" * 1000  # under the line limit (guards.py)
    result = project({"shop/deep.py": f"x: {deep}\n", "shop/ok.py": "y = 1\n"})
    assert messages(result) == [
        "shop/deep.py:1:1008: QG001 syntax error: too many nested parentheses"
    ]


def test_wiring_in_a_loop_is_reported(project: Project) -> None:
    result = project(
        {
            "shop/jobs.py": """
                from qgen import sessionless_func, wire_queue_worker

                @sessionless_func
                def job(services, data: int) -> None: ...

                for name in ("a", "b"):
                    wire_queue_worker(queue=name, func=job)
            """,
        }
    )
    assert messages(result) == [
        "shop/jobs.py:7:29: QG101 queue must be a string literal matching"
        " [A-Za-z0-9][A-Za-z0-9_.-]{0,127}, not name"
    ]


def test_typing_typeddict_behind_try_import_is_still_reported(project: Project) -> None:
    result = project(
        {
            "shop/jobs.py": """
                from qgen import sessionless_func, wire_queue_worker
                try:
                    from typing import TypedDict
                except ImportError:
                    from typing_extensions import TypedDict

                class Mail(TypedDict):
                    to: str

                @sessionless_func
                def job(services, data: Mail) -> None: ...

                wire_queue_worker(queue="mail", func=job)
            """,
        }
    )
    assert messages(result) == [
        "shop/jobs.py:11:25: QG202 Mail is a typing.TypedDict, which pydantic does not validate"
        " on Python < 3.12; use typing_extensions.TypedDict"
    ]

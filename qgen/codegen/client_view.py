"""What the client template prints, decided here: the template only loops and prints.

Every string in these views is Python source already (literals through ``literals``), so the
template applies no filters and makes no choices beyond the flags computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from qgen.codegen.ir import QueueSpec
from qgen.codegen.literals import doc_literal, ident, py_literal
from qgen.codegen.models import QueueTypes


@dataclass(frozen=True, slots=True)
class QueueView:
    name: str  # the queue name as a string literal
    accessor: str  # the client attribute (an identifier)
    doc: str  # the accessor's docstring literal
    data: str  # what add() takes: "models.PaymentsData" (the model or its dict form)
    result: str  # what result() gives: "models.PaymentsOutput" or "None"
    model: str  # what listed jobs' data is validated into: "models.PaymentsInput"
    types: str  # the queue_table entry: "(models.PaymentsInput, models.PaymentsOutput)"


@dataclass(frozen=True, slots=True)
class ClientClassView:
    name: str  # "AsyncQueueClient"
    base: str  # "AsyncClientBase"
    queue: str  # "AsyncQueue"
    handle: str  # "AsyncJobHandle"
    define: str  # "async def" or "def"
    wait: str  # "await " or ""
    doc: str  # the class docstring literal
    add_doc: str  # the add() docstring literal


@dataclass(frozen=True, slots=True)
class ClientView:
    banner: str
    root_parts: str  # literal list of path parts from the output package to the project root
    queues: tuple[QueueView, ...]
    classes: tuple[ClientClassView, ...]
    overloads: bool  # add() needs overloads (two queues or more)
    single_add: bool  # one queue: one typed add() with a body
    exports: str  # literal of __all__


def queue_doc(q: QueueSpec) -> str:
    """The summary (else the function's import path), the input and output types, and the
    description below them when there is one."""
    docs = q.function.docs
    output = q.function.output_type if q.function.output_schema is not None else "None"
    summary = str(docs.get("summary") or f"Queue {q.name!r}: {q.function.import_path}").strip()
    lines = [f"{summary} ({q.function.input_type} -> {output})."]
    if docs.get("description"):
        lines += ["", str(docs["description"])]
    return "\n".join(lines)


def _queue_view(q: QueueSpec, types: QueueTypes) -> QueueView:
    model = f"models.{ident(types.input)}"
    data = f"models.{ident(types.data)}"
    result = f"models.{ident(types.output)}" if types.output else "None"
    return QueueView(
        name=py_literal(q.name),
        accessor=ident(q.accessor),
        doc=doc_literal(queue_doc(q), 8),
        data=data,
        result=result,
        model=model,
        types=f"({model}, {result})",
    )


def client_view(
    banner: str,
    package: str,
    root_parts: Sequence[str],
    queues: Sequence[QueueSpec],
    types: Mapping[str, QueueTypes],
) -> ClientView:
    add_doc = "Add one job to the named queue; ``data`` is validated first."
    classes = tuple(
        ClientClassView(
            name=f"{prefix}QueueClient",
            base=f"{prefix}ClientBase",
            queue=f"{prefix}Queue",
            handle=f"{prefix}JobHandle",
            define="async def" if prefix else "def",
            wait="await " if prefix else "",
            doc=doc_literal(f"{kind} client for the queues of {package}.", 4),
            add_doc=doc_literal(add_doc, 8),
        )
        for prefix, kind in (("Async", "Async"), ("", "Blocking"))
    )
    return ClientView(
        banner=banner,
        root_parts=py_literal(list(root_parts)),
        queues=tuple(_queue_view(q, types[q.name]) for q in queues),
        classes=classes,
        overloads=len(queues) > 1,
        single_add=len(queues) == 1,
        exports=py_literal(["DEFAULT_URL", "QUEUES", "AsyncQueueClient", "QueueClient"]),
    )

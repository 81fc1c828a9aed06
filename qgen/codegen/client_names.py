"""The client attribute of each queue, kept clear of the names the generated client needs.

A queue named ``close``, ``add`` or ``models`` would otherwise get a property that hides a
client method (``RecursionError``, "property has no setter") or, inside the class body, a name
the annotations refer to. Such a queue's accessor gets a trailing underscore, the rule already
used for Python keywords (``close`` -> ``client.close_``); ``client.add("close", ...)`` is
unchanged. A test checks this list against the runtime's client classes and the names bound in
a generated ``client.py``.
"""

from __future__ import annotations

from qgen.runtime.names import accessor_for

# Members of the client classes (methods, class and instance attributes) and every name bound
# at module level in the generated client.py (class-body annotations would see a property).
RESERVED = frozenset(
    [
        "add",
        "add_many",
        "backend_name",
        "close",
        "from_url",
        "queue",
        "url",
        "workers",
        "QUEUES",
        "DEFAULT_URL",
        "AsyncClientBase",
        "AsyncJobHandle",
        "AsyncQueue",
        "AsyncQueueClient",
        "ClientBase",
        "JobHandle",
        "Queue",
        "QueueClient",
        "QueueMeta",
        "JobOptions",
        "BatchOptions",
        "queue_table",
        "Any",
        "Literal",
        "Mapping",
        "Path",
        "Unpack",
        "overload",
        "dt",
        "models",
        "annotations",
    ]
)


def client_accessor(queue: str) -> str:
    """``publish-article`` -> ``publish_article``; a reserved result gets ``_`` appended."""
    name = accessor_for(queue)
    while name in RESERVED:
        name += "_"
    return name

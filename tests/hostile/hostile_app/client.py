"""The client a ``qgen build`` would generate for this app, built here from the real types."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from hostile_app import wiring as _wiring
from qgen.runtime.client import AsyncClientBase, ClientBase, QueueMeta
from qgen.runtime.wiring import registered


def _meta(queue: str) -> QueueMeta:
    w = registered()[queue]
    hints = typing.get_type_hints(w.func, include_extras=True)
    data_param = list(inspect.signature(w.func).parameters)[1]
    out: Any = hints.get("return")
    return QueueMeta(queue, hints[data_param], None if out is type(None) else out, dict(w.config))


QUEUES = {q: _meta(q) for q in _wiring.QUEUES}


class AsyncQueueClient(AsyncClientBase):
    QUEUES = QUEUES


class QueueClient(ClientBase):
    QUEUES = QUEUES

"""What queues and job handles know of their client, and of one queue: the shapes the client
side's modules share (``client`` imports them; they cannot import ``client``)."""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from qgen.runtime.backends.base import Backend
from qgen.runtime.payloads import Adapters

T = TypeVar("T")


class AsyncClientView(Protocol):
    """What queues and handles use of an async client (``client.AsyncClientBase``; that module
    imports this one, so it is named here by its shape)."""

    @property
    def backend_name(self) -> str: ...

    @property
    def url(self) -> str: ...

    async def _connect(self) -> Backend: ...

    def _adapters(self, name: str) -> Adapters: ...


class ClientView(Protocol):
    """What queues and handles use of a blocking client (``client.ClientBase``)."""

    @property
    def _core(self) -> AsyncClientView: ...

    def _run(self, coro: Coroutine[Any, Any, T]) -> T: ...


@dataclass(frozen=True, slots=True)
class QueueMeta:
    name: str
    input_type: Any  # anything pydantic.TypeAdapter accepts: the generated model or type
    output_type: Any  # None when the queue's function returns no result
    config: Mapping[str, Any]  # normalized config from the manifest (attempts, backoff, ...)

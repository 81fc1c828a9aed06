"""The one way in to a backend: from a URL to its class, imported only when used.

The capability table (``capabilities.IMPLEMENTATIONS``) names each backend's class; importing it
here, lazily, keeps a client for one backend free of the others' libraries and keeps every
caller (the client, the worker, the CLI) away from concrete backend modules.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Sequence
from typing import Any, cast

from qgen.runtime.backends.base import Backend, Provisioned
from qgen.runtime.capabilities import EXTRAS, IMPLEMENTATIONS, backend_for_url
from qgen.runtime.errors import BackendUnavailable, ConfigError, QgenError
from qgen.runtime.schedules import Schedule
from qgen.runtime.settings import QueueConfigs
from qgen.runtime.urls import mask_url, redact


def backend_class(url: str) -> type[Backend]:
    """The Backend class for ``url``'s scheme; ConfigError when its extra is not installed."""
    name = backend_for_url(url)
    module_name, cls_name = IMPLEMENTATIONS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"the {name} backend needs extra packages: pip install 'qgen[{EXTRAS[name]}]' ({exc})"
        ) from exc
    cls: Any = getattr(module, cls_name)
    return cls  # type: ignore[no-any-return]


async def open_backend(url: str, queues: QueueConfigs) -> Backend:
    """Connect the backend for ``url``; ``queues`` maps each queue name to its settings or its
    config dict (attempts, backoff, ... are the defaults of jobs added without them)."""
    cls = backend_class(url)
    try:
        return await cls.connect(url, queues)
    except QgenError:
        raise
    except Exception as exc:  # the driver's own error: a refused connection, a bad file
        raise unavailable(cls.name, url, exc) from None


async def provision(
    url: str, queues: QueueConfigs, schedules: Sequence[Schedule] = ()
) -> Provisioned:
    """Create what the backend of ``url`` needs before use (``qgen setup``)."""
    cls = backend_class(url)
    try:
        return await cls.provision(url, queues, schedules=schedules)
    except QgenError:
        raise
    except Exception as exc:  # the driver's own error: the server, the endpoint, credentials
        raise unavailable(cls.name, url, exc) from None


class Reachable:
    """A client's backend whose calls raise ``BackendUnavailable`` when the server cannot be
    reached (``Backend.unreachable``), whatever the driver: a caller catches one error on
    every backend. Each coroutine method is wrapped once, on first use."""

    def __init__(self, backend: Backend, url: str) -> None:
        self._backend, self._url = backend, url

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._backend, name)
        if not inspect.iscoroutinefunction(attr):
            return attr
        backend, url = self._backend, self._url

        @functools.wraps(attr)
        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await attr(*args, **kwargs)
            except QgenError:
                raise
            except Exception as exc:
                if backend.unreachable(exc):
                    raise unavailable(backend.name, url, exc) from exc
                raise

        setattr(self, name, call)  # found directly from now on, without __getattr__
        return call


def reachable(backend: Backend, url: str) -> Backend:
    return cast(Backend, Reachable(backend, url))


def unavailable(backend: str, url: str, exc: BaseException) -> BackendUnavailable:
    """One line naming what could not be reached, with no secret of ``url`` in it."""
    reason = " ".join(str(exc).split()) or type(exc).__name__  # drivers' messages span lines
    return BackendUnavailable(backend, repr(mask_url(url)), redact(reason, url))

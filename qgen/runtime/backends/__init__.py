"""Backends: one module per URL scheme, each implementing :class:`base.Backend`."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from qgen.runtime.backends.base import Backend
from qgen.runtime.capabilities import EXTRAS, IMPLEMENTATIONS, backend_for_url
from qgen.runtime.errors import BackendUnavailable, ConfigError, QgenError
from qgen.runtime.urls import mask_url, redact


async def open_backend(url: str, queues: Mapping[str, Mapping[str, Any]]) -> Backend:
    """Connect the backend for ``url``; ``queues`` maps each queue name to its normalized config
    (attempts, backoff, ... used as defaults for jobs added without those options)."""
    name = backend_for_url(url)
    module_name, cls_name = IMPLEMENTATIONS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = EXTRAS[name]
        raise ConfigError(
            f"the {name} backend needs extra packages: pip install 'qgen[{extra}]' ({exc})"
        ) from exc
    cls: Any = getattr(module, cls_name)
    try:
        backend: Backend = await cls.connect(url, queues)
    except QgenError:
        raise
    except Exception as exc:  # the driver's own error: a refused connection, a bad file
        raise unavailable(name, url, exc) from None
    return backend


def unavailable(backend: str, url: str, exc: BaseException) -> BackendUnavailable:
    """One line naming what could not be reached, with no secret of ``url`` in it."""
    reason = " ".join(str(exc).split()) or type(exc).__name__  # drivers' messages span lines
    return BackendUnavailable(backend, repr(mask_url(url)), redact(reason, url))

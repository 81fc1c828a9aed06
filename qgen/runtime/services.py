"""The services object handed to every job function, created once per worker process.

``[tool.qgen] services = "module:attr"`` names a factory called with no arguments. It may be:
a plain function or a coroutine function returning the services object; a function returning a
sync or async context manager (``@contextmanager`` / ``@asynccontextmanager`` included), which
is entered at start-up and exited when the worker stops; or an undecorated (async) generator
function, treated as if decorated. No factory: services is None.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from typing import Any

from qgen.runtime.errors import ConfigError


def load_object(spec: str, *, what: str = "object") -> Any:
    """Import ``"package.module:attr.sub"``; ConfigError with a clear message on failure."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what} {spec!r} must look like 'package.module:name'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"cannot import module {module_name!r} of {what} {spec!r}: {exc}"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ConfigError(f"{what} {spec!r}: {module_name!r} has no {attr!r}") from exc
    return obj


async def open_services(spec: str | None, stack: contextlib.AsyncExitStack) -> Any:
    """Create the services object; its clean-up (if any) is pushed on ``stack``."""
    if spec is None:
        return None
    factory = load_object(spec, what="services factory")
    if not callable(factory):
        raise ConfigError(f"services factory {spec!r} is not callable")
    if inspect.isasyncgenfunction(factory):
        factory = contextlib.asynccontextmanager(factory)
    elif inspect.isgeneratorfunction(factory):
        factory = contextlib.contextmanager(factory)
    try:
        value = factory()
        if inspect.isawaitable(value):
            value = await value
        if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
            return await stack.enter_async_context(value)
        if hasattr(value, "__enter__") and hasattr(value, "__exit__"):
            return stack.enter_context(value)
        return value
    except Exception as exc:  # start-up failure: one clear line, the cause chained
        raise ConfigError(f"services factory {spec!r} failed: {type(exc).__name__}: {exc}") from exc

"""``@sessionless_func``: marks a plain function as a job function without wrapping it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

_META_ATTR = "__qgen_func__"


@dataclass(frozen=True, slots=True)
class FuncMeta:
    auth: bool = False
    permissions: tuple[str, ...] = ()
    docs: dict[str, Any] = field(default_factory=dict)


@overload
def sessionless_func(
    func: F,
    *,
    auth: bool = False,
    permissions: list[str] | tuple[str, ...] | None = None,
    docs: dict[str, Any] | None = None,
) -> F: ...


@overload
def sessionless_func(
    func: None = None,
    *,
    auth: bool = False,
    permissions: list[str] | tuple[str, ...] | None = None,
    docs: dict[str, Any] | None = None,
) -> Callable[[F], F]: ...


def sessionless_func(
    func: F | None = None,
    *,
    auth: bool = False,
    permissions: list[str] | tuple[str, ...] | None = None,
    docs: dict[str, Any] | None = None,
) -> F | Callable[[F], F]:
    """Mark ``func`` as a job function. The function object itself is returned, so it stays
    directly callable (and unit-testable) with the same signature.

    ``docs`` may hold ``summary``, ``description``, ``tags`` and ``errors``; they end up in the
    manifest and the generated client's docstrings. Queue jobs carry no user session, so
    ``auth=True`` or ``permissions`` on a function wired to a queue is a build error.
    """

    def mark(f: F) -> F:
        setattr(f, _META_ATTR, FuncMeta(auth, tuple(permissions or ()), dict(docs or {})))
        return f

    if func is not None:
        return mark(func)
    return mark


def func_meta(func: Callable[..., Any]) -> FuncMeta | None:
    meta = getattr(func, _META_ATTR, None)
    return meta if isinstance(meta, FuncMeta) else None

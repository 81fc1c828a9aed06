"""Run ONE delivered job: validate -> middleware -> call -> classify the outcome.

A :class:`Runner` is built once per queue at worker start-up. It resolves the function's real
annotations into pydantic ``TypeAdapter``s (refusing to start when they cannot be built), so a
job never meets a schema problem at run time. :meth:`Runner.run` never raises for anything the
job does; it returns an :data:`Outcome` the backend applies.

Timeouts: the attempt (middleware and function) runs under ``asyncio.timeout``. An ``async def``
function is cancelled. A plain ``def`` function runs in a thread, which Python cannot kill: the
attempt is failed at the deadline and the thread is left to finish on its own; its result is
dropped, and it keeps its pool slot until it returns.

Cancel requests (``handle.cancel()`` of a running job): the consumer sets the delivery's
:class:`~qgen.runtime.interaction.CancelFlag`. An ``async def`` job's task is cancelled; the
``CancelledError`` of that request (told apart by the flag from a shutdown's or the job's own)
becomes :class:`Cancelled`. A plain ``def`` job only sees ``interaction.queue.cancelled``. Once
requested, the job ends :class:`Cancelled` whatever it returns or raises.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
import typing
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from typing import Any

from pydantic import TypeAdapter, ValidationError

from qgen.runtime import logs, schema_changes
from qgen.runtime.backends.base import (
    Cancelled,
    Completed,
    Delivery,
    Discarded,
    ErrorInfo,
    Failed,
    Outcome,
    Retry,
)
from qgen.runtime.errors import ConfigError, QueueJobDiscarded, ResultNotStorable
from qgen.runtime.interaction import (
    Interaction,
    QueueInteraction,
    SyncInteraction,
    SyncQueueInteraction,
)
from qgen.runtime.json_rule import input_problem, json_problem, needs_input_check
from qgen.runtime.payloads import describe_validation_error
from qgen.runtime.retry import backoff_delay
from qgen.runtime.settings import QueueSettings, resolve
from qgen.runtime.wiring import QueueWiring

log = logging.getLogger("qgen.runner")

_UNSET: Any = object()


class _Timeout(Exception):
    """The attempt ran past the queue's ``timeout``."""


def _error(exc: BaseException, type_name: str | None = None) -> ErrorInfo:
    tb = "".join(traceback.format_exception(exc))
    return ErrorInfo(type_name or type(exc).__name__, str(exc), tb)


def _func_types(func: Callable[..., Any], queue: str) -> tuple[Any, Any, int]:
    """(input type, output type, number of parameters) of a job function."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"queue {queue!r}: cannot read the signature of {func!r}: {exc}") from exc
    if len(params) not in (2, 3):
        raise ConfigError(
            f"queue {queue!r}: a job function takes (services, data[, interaction]); "
            f"{getattr(func, '__qualname__', func)!r} takes {len(params)} parameters"
        )
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise ConfigError(
            f"queue {queue!r}: cannot resolve the annotations of "
            f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)}: {exc}"
        ) from exc
    return hints.get(params[1].name, Any), hints.get("return", Any), len(params)


class Runner:
    """Executes the jobs of one queue."""

    def __init__(
        self,
        wiring: QueueWiring,
        services: Any,
        *,
        backend: str,
        settings: QueueSettings | None = None,
    ) -> None:
        self.wiring = wiring
        self.queue = wiring.queue
        self.services = services
        self.backend = backend
        self.settings = settings or resolve(wiring.queue, wiring.config, backend)
        self.func = wiring.func
        input_type, output_type, nparams = _func_types(self.func, self.queue)
        self.takes_interaction = nparams == 3
        self.is_async = inspect.iscoroutinefunction(self.func)
        self.has_result = output_type is not None and output_type is not type(None)
        try:
            self.input_adapter: TypeAdapter[Any] = TypeAdapter(input_type)
            self.output_adapter: TypeAdapter[Any] = TypeAdapter(output_type)
        except Exception as exc:
            raise ConfigError(
                f"queue {self.queue!r}: pydantic cannot validate the types of "
                f"{getattr(self.func, '__qualname__', self.func)}: {exc}"
            ) from exc
        self.check_result = self.has_result and needs_input_check(self.output_adapter)
        self.timeout = self.settings.timeout
        self.dead_letter = self.settings.dead_letter
        self.schema_history: schema_changes.SchemaHistory | None = None  # from the manifest
        self._pool: ThreadPoolExecutor | None = None
        if not self.is_async:
            self._pool = ThreadPoolExecutor(
                max_workers=self.settings.batch_size,
                thread_name_prefix=f"qgen-{self.queue}",
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, delivery: Delivery) -> Outcome:
        tokens = logs.bind(self.queue, delivery.job_id)
        try:
            outcome = await self._run(delivery)
            if isinstance(outcome, Completed):
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("job completed")
            elif isinstance(outcome, Retry):
                log.warning(
                    "attempt %d/%d failed (%s: %s); retry in %.3f s",
                    delivery.attempt,
                    delivery.max_attempts,
                    outcome.error.type,
                    outcome.error.message,
                    outcome.delay,
                )
            elif isinstance(outcome, Failed):
                log.error(
                    "job failed after attempt %d/%d: %s: %s",
                    delivery.attempt,
                    delivery.max_attempts,
                    outcome.error.type,
                    outcome.error.message,
                )
            elif isinstance(outcome, Cancelled):
                log.info("job cancelled: %s", outcome.reason)
            else:
                log.info("job discarded: %s", outcome.reason)
            return outcome
        finally:
            logs.unbind(tokens)

    async def _run(self, delivery: Delivery) -> Outcome:
        flag = delivery.cancel
        if flag.requested:  # cancelled while leased ahead: never starts
            return Cancelled(flag.reason)
        try:
            data = self.input_adapter.validate_python(delivery.data)
        except ValidationError as exc:
            # Bad data fails the same way every time: no retry.
            message = f"invalid data for queue {self.queue!r}: {describe_validation_error(exc)}"
            message += schema_changes.hint(self.queue, self.schema_history, exc)
            info = ErrorInfo("ValidationFailed", message)
            return Failed(info, self.dead_letter)
        task = asyncio.current_task() if self.is_async else None
        if task is not None:
            flag.arm(task)
        try:
            outcome = await self._outcome(delivery, data)
        except asyncio.CancelledError:
            if not flag.fired:  # a shutdown gives the job back; the job's own: a failed attempt
                raise
            outcome = Cancelled(flag.reason)
        finally:
            flag.disarm()
            if flag.fired and task is not None:
                task.uncancel()  # the request's cancellation is consumed here, not by the slot
        if flag.requested:
            return Cancelled(flag.reason)
        return outcome

    async def _outcome(self, delivery: Delivery, data: Any) -> Outcome:
        try:
            result = await self._attempt(delivery, data)
            return Completed(self._dump(result))
        except QueueJobDiscarded as exc:
            return Discarded(exc.reason)
        except _Timeout as exc:
            return self._failure(delivery, _error(exc, "JobTimeout"))
        except (Exception, SystemExit) as exc:  # a job's own error: never crash the worker
            return self._failure(delivery, _error(exc))

    def _failure(self, delivery: Delivery, error: ErrorInfo) -> Outcome:
        if delivery.attempt < delivery.max_attempts:
            backoff = delivery.backoff if delivery.backoff is not None else self.settings.backoff
            return Retry(error, backoff_delay(backoff, delivery.attempt))
        return Failed(error, self.dead_letter)

    def _dump(self, result: Any) -> Any:
        """The result as the JSON the backend stores: by alias, as the output schema says.
        Raises ResultNotStorable (a failed attempt) for a result that breaks the JSON rule of
        json_rule.py, the same on every backend, before anything reaches the backend."""
        if not self.has_result:
            return None
        problem = None
        if self.check_result:  # ``Any`` would dump NaN as null: look at what was returned
            problem = input_problem(result, "result")
        if problem is None:
            adapter = self.output_adapter
            try:
                out = adapter.dump_python(result, mode="json", by_alias=True, warnings="error")
            except Exception:
                # e.g. a dict returned for a model output: validate it into the type, then dump.
                value = adapter.validate_python(result)
                try:
                    out = adapter.dump_python(value, mode="json", by_alias=True)
                except Exception as exc:  # an object pydantic cannot serialize, a cycle, ...
                    raise ResultNotStorable(f"the result cannot be serialized: {exc}") from None
            problem = json_problem(out, "result")
        if problem is not None:
            raise ResultNotStorable(
                f"the result cannot be stored as JSON: {problem[0]}: {problem[1]}"
            )
        return out

    async def _attempt(self, delivery: Delivery, data: Any) -> Any:
        facts = (self.queue, delivery.job_id, delivery.attempt, delivery.max_attempts)
        interaction = Interaction(
            QueueInteraction(*facts, delivery.report_progress, delivery.cancel)
        )
        if self.timeout is None and not self.wiring.middleware:  # the common, fast path
            return await self._call(delivery, data, interaction, facts)
        result: Any = _UNSET

        async def call() -> None:
            nonlocal result
            result = await self._call(delivery, data, interaction, facts)

        chain: Callable[[], Awaitable[None]] = call
        for mw in reversed(self.wiring.middleware):
            chain = _wrap(mw, self.services, interaction, chain)
        if self.timeout is None:
            await chain()
        else:
            try:
                async with asyncio.timeout(self.timeout) as scope:
                    await chain()
            except TimeoutError:
                if scope.expired():
                    raise _Timeout(f"attempt ran longer than {self.timeout:g} s") from None
                raise
        return None if result is _UNSET else result  # a middleware may skip the call

    async def _call(
        self,
        delivery: Delivery,
        data: Any,
        interaction: Interaction,
        facts: tuple[str, str, int, int],
    ) -> Any:
        if self.is_async:
            args: tuple[Any, ...] = (self.services, data)
            if self.takes_interaction:
                args += (interaction,)
            return await self.func(*args)
        loop = asyncio.get_running_loop()
        args = (self.services, data)
        if self.takes_interaction:
            report = delivery.report_progress
            sync = SyncInteraction(SyncQueueInteraction(*facts, report, loop, delivery.cancel))
            args += (sync,)
        ctx = copy_context()  # the thread logs with this job's queue and id
        return await loop.run_in_executor(self._pool, ctx.run, self.func, *args)


def _wrap(
    mw: Any, services: Any, interaction: Interaction, inner: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        await mw(services, interaction, inner)

    return step

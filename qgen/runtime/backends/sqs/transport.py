"""One boto3 SQS client shared by a backend, called from asyncio through a private thread pool.

boto3 is blocking; every call runs in :class:`SqsCalls`'s own executor so the event loop never
blocks and a long poll (up to 20 s) never starves the default executor that sync job functions
use. boto3 clients are thread-safe; one client (with a connection pool sized for the pool) is
reused for every call. Queue URLs are resolved by name once and cached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from qgen.runtime.backends.sqs.url import SqsUrl
from qgen.runtime.errors import BackendUnavailable, ConfigError, QgenError
from qgen.runtime.urls import mask_url

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

T = TypeVar("T")

# Error codes meaning "this queue does not exist" (the JSON protocol reports the long form).
MISSING_QUEUE_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NonExistentQueue",
    }
)


def make_client(url: SqsUrl, pool: int = 10) -> SQSClient:
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=max(10, pool),
        # Long polls last up to 20 s: the read timeout must be longer.
        read_timeout=max(60, url.wait_seconds_max + 10),
        connect_timeout=5,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    from botocore.exceptions import NoRegionError

    try:
        client: SQSClient = boto3.session.Session().client(
            "sqs", region_name=url.region, endpoint_url=url.endpoint_url, config=config
        )
    except NoRegionError:
        raise ConfigError(
            "no AWS region for SQS: put it in the URL (sqs://us-east-1?...) or set "
            "AWS_DEFAULT_REGION"
        ) from None
    return client


class SqsRequestFailed(QgenError):
    """SQS answered a request with an error (``code``: SQS's error code)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def sqs_error(exc: Exception, url: SqsUrl, queue: str) -> QgenError:
    """A qgen error for a boto3 failure of a request on ``queue``, with no secret of the
    endpoint in it: SQS's own answer (:class:`SqsRequestFailed`), or no answer at all
    (``BackendUnavailable``: connection refused, DNS, timeout, credentials)."""
    reason = mask_url(" ".join(str(exc).split()) or type(exc).__name__)
    code = error_code(exc)
    if code is None:
        return BackendUnavailable("sqs", repr(url.shown()), reason)
    return SqsRequestFailed(f"SQS refused a request on queue {queue!r}: {reason}", code)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, SqsRequestFailed):
        return exc.code
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def is_missing_queue(exc: BaseException) -> bool:
    return error_code(exc) in MISSING_QUEUE_CODES


class SqsCalls:
    """Async front of one boto3 client: ``await calls.run(fn, *args)`` runs ``fn`` in the pool."""

    def __init__(self, url: SqsUrl, *, threads: int = 8) -> None:
        self.url = url
        self.client = make_client(url, pool=threads + 2)
        # Creates the missing queues (the backend sets it when its URL says ``create=1``).
        self.create: Callable[[], Awaitable[object]] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="qgen-sqs"
        )
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def queue_url_sync(self, queue: str) -> str:
        """The SQS URL of a qgen queue (prefix applied), cached after the first look-up."""
        with self._lock:
            cached = self._urls.get(queue)
        if cached is not None:
            return cached
        name = self.url.sqs_name(queue)
        found = self.client.get_queue_url(QueueName=name)["QueueUrl"]
        with self._lock:
            self._urls[queue] = found
        return found

    async def queue_url(self, queue: str) -> str:
        with self._lock:
            cached = self._urls.get(queue)
        if cached is not None:
            return cached
        return await self.run(self.queue_url_sync, queue)

    async def on_queue(self, queue: str, fn: Callable[[str], T]) -> T:
        """Run ``fn(queue_url)`` in the pool; a missing queue is created (``create=1``) or
        reported with the command that creates it. boto3's errors become qgen errors
        (:func:`sqs_error`)."""
        for attempt in (1, 2):
            try:
                url = await self.queue_url(queue)
                return await self.run(fn, url)
            except Exception as exc:
                if isinstance(exc, QgenError):
                    raise
                if not is_missing_queue(exc):
                    raise sqs_error(exc, self.url, queue) from exc
                self.forget(queue)
                if attempt == 1 and self.create is not None:
                    await self.create()
                    continue
                raise ConfigError(
                    f"SQS queue {self.url.sqs_name(queue)!r} does not exist: run `qgen setup` "
                    "(or `qgen sqs create-queues`), or add create=1 to the sqs:// URL"
                ) from exc
        raise AssertionError("unreachable")

    def forget(self, queue: str) -> None:
        """Drop a cached URL (the queue was deleted or the server lost it)."""
        with self._lock:
            self._urls.pop(queue, None)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()

"""The backends' background loops end when cancelled, even when a client call under them loses
the cancellation (swallows it, or turns it into its own error: redis-py's TimeoutError,
psycopg's OperationalError): the consumer's exchange loop, pause probe and heartbeat on every
backend, SQS's receive and paused-tag read, PostgreSQL's LISTEN connection, reconnecting shared
connection and waiting-clients check, Redis's marker wait and event reader. Each loop runs on a
real server; only the one call is replaced by one that loses the cancel
(tests/support/lost_cancel.py). The worker's second signal cancels the consumer and waits for
it: a loop that outlives the cancel hangs the worker."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from qgen.runtime.backends.base import Backend, Completed, Delivery, Outcome
from qgen.runtime.backends.registry import open_backend
from qgen.runtime.backends.skeleton import ConsumerSkeleton
from qgen.runtime.capabilities import BACKENDS
from qgen.runtime.settings import QueueSettings, resolve
from tests.support.lost_cancel import MODES, Call, stops_when_cancelled

CONFIG = {"attempts": 2, "drain_delay": 1, "poll_interval": 100}


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    provider = importlib.import_module(f"support.{request.param}")
    with provider.backend_url(tmp_path) as value:
        yield value


@pytest.fixture
async def backend(url: str) -> AsyncIterator[Backend]:
    conn = await open_backend(url, {"loops": CONFIG})
    yield conn
    await conn.close()


async def _handle(delivery: Delivery) -> Outcome:
    return Completed(None)


def _consumer(conn: Backend) -> ConsumerSkeleton[Any]:
    settings: QueueSettings = resolve("loops", CONFIG, conn.name)
    consumer = conn.consume([settings], _handle)
    assert isinstance(consumer, ConsumerSkeleton)
    return consumer


@pytest.mark.parametrize("hanging", ["exchange", "pause_probe", "recover"])
@pytest.mark.parametrize("mode", MODES)
async def test_the_consumer_ends_when_a_loop_call_loses_the_cancel(
    backend: Backend, mode: str, hanging: str
) -> None:
    consumer = _consumer(backend)
    call = Call(mode, result=False)
    native: Any = consumer.native
    if hanging == "exchange":  # the round: record the finished, lease the next
        native.exchange = call
    elif hanging == "pause_probe":  # the paused state, read before a round
        consumer.lanes[0].pause_probe = call
    else:  # the heartbeat (SQS has no recovery of its own: asked here all the same)
        native.recover_every = lambda lane: 0.05
        native.recover = call
    await stops_when_cancelled(consumer.run(), call)


# -- SQS: the receive and the paused tag ---------------------------------------------------------


@pytest.fixture
async def sqs(tmp_path: Path) -> AsyncIterator[Backend]:
    from support.sqs import backend_url

    with backend_url(tmp_path) as value:
        conn = await open_backend(value, {"loops": CONFIG})
        yield conn
        await conn.close()


def _hang_receive(native: Any, call: Call) -> None:
    """Only ReceiveMessage loses the cancel; every other SQS call is the real one."""
    calls = native.calls
    real = calls.run

    async def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn == calls.client.receive_message:
            return await call()
        return await real(fn, *args, **kwargs)

    calls.run = run


@pytest.mark.parametrize("mode", MODES)
async def test_sqs_receive_ends_cancelled_not_as_a_failed_receive(sqs: Backend, mode: str) -> None:
    consumer = _consumer(sqs)
    native: Any = consumer.native
    call = Call(mode, result={"Messages": []})
    _hang_receive(native, call)
    lane = consumer.lanes[0]
    await stops_when_cancelled(native._receive(lane, 0.0), call)
    assert lane.errors == 0  # not counted, logged and backed off as an unreachable server


def _name(task: asyncio.Task[Any]) -> str:
    return str(getattr(task.get_coro(), "__qualname__", ""))


@pytest.mark.parametrize("mode", MODES)
async def test_a_cancelled_sqs_consumer_leaves_no_receive_running(sqs: Backend, mode: str) -> None:
    consumer = _consumer(sqs)
    native: Any = consumer.native
    call = Call(mode, result={"Messages": []})
    _hang_receive(native, call)
    await stops_when_cancelled(consumer.run(), call)
    receives = [t for t in asyncio.all_tasks() if _name(t) == "SqsNative._receive"]
    try:
        if receives:
            await asyncio.wait(receives, timeout=2)
        assert all(t.done() for t in receives), "a long poll outlived its consumer"
    finally:
        call.honest = True
        for task in receives:
            task.cancel()


@pytest.mark.parametrize("mode", MODES)
async def test_sqs_paused_tag_read_ends_cancelled(
    sqs: Backend, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qgen.runtime.backends.sqs import consumer as sqs_consumer

    consumer = _consumer(sqs)
    native: Any = consumer.native
    call = Call(mode, result=False)
    monkeypatch.setattr(sqs_consumer, "read_paused", call)
    await stops_when_cancelled(native._read_paused(consumer.lanes[0]), call)


# -- PostgreSQL: the LISTEN connection and the shared connection ---------------------------------

PG_LOST = psycopg.OperationalError("consuming input failed: the cancel became this")


@pytest.mark.parametrize("mode", MODES)
async def test_postgres_listener_closes_when_its_wait_loses_the_cancel(mode: str) -> None:
    from support.postgres import SERVER

    from qgen.runtime.backends.postgres.notify import Listener

    call = Call(mode, error=PG_LOST)

    async def notifies() -> AsyncIterator[Any]:
        await call()
        return
        yield  # an async generator, as psycopg's

    listener = Listener(SERVER, [f"qgen_test_{uuid.uuid4().hex[:8]}"], lambda ch, p: None)
    await listener.start()
    conn: Any = listener._conn
    conn.notifies = notifies  # before its task first runs
    task = listener._task
    assert task is not None
    try:
        await stops_when_cancelled(task, call)
    finally:
        call.honest = True
        await listener.close()


async def test_postgres_shared_connection_stops_retrying_when_cancelled() -> None:
    """``run`` retries an operation after a lost connection (a swallowed cancel is the
    operation's own business: it returns)."""
    from support.postgres import SERVER

    from qgen.runtime.backends.postgres.transport import SharedConnection

    shared = SharedConnection(SERVER, asyncio.get_running_loop())
    call = Call("raise", error=PG_LOST)
    try:
        await stops_when_cancelled(shared.run(call), call)
    finally:
        call.honest = True
        await shared._drop()


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[Backend]:
    from support.postgres import backend_url

    with backend_url(tmp_path) as value:
        conn = await open_backend(value, {"loops": CONFIG})
        yield conn
        await conn.close()


@pytest.mark.parametrize("mode", MODES)
async def test_postgres_waiting_clients_check_ends_when_its_query_loses_the_cancel(
    postgres: Backend, mode: str
) -> None:
    """The consumer's check for clients waiting on results (once a second, on the shared
    connection) is cancelled by the consumer's close."""
    consumer = _consumer(postgres)
    native: Any = consumer.native
    call = Call(mode, error=PG_LOST)
    real = native.side.execute

    async def execute(statement: Any, params: Any = ()) -> Any:
        if statement == native.st.waiters:
            return await call()
        return await real(statement, params)

    native.side.execute = execute
    try:
        await stops_when_cancelled(consumer.run(), call)
    finally:
        call.honest = True
        del native.side.execute  # the shared connection's own again


# -- Redis: the marker wait and the event reader -------------------------------------------------


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[Backend]:
    from support.redis import backend_url

    with backend_url(tmp_path) as value:
        conn = await open_backend(value, {"loops": CONFIG})
        yield conn
        await conn.close()


def _hang_read(shared: Any, command: str, call: Call) -> None:
    """The blocking connections the shared place hands out lose the cancel in ``command``."""
    real = shared.blocking_client

    def blocking_client(role: str) -> Any:
        client = real(role)
        setattr(client, command, call)
        return client

    shared.blocking_client = blocking_client


@pytest.mark.parametrize("mode", MODES)
async def test_redis_marker_wait_ends_when_its_read_loses_the_cancel(
    redis: Backend, mode: str
) -> None:
    from redis.exceptions import TimeoutError as RedisTimeout

    conn: Any = redis
    call = Call(mode, error=RedisTimeout("Timeout connecting to server"))
    _hang_read(conn.shared, "bzpopmin", call)
    try:
        await stops_when_cancelled(_consumer(redis).run(), call)  # closing cancels the wait
    finally:
        call.honest = True
        del conn.shared.blocking_client


@pytest.mark.parametrize("mode", MODES)
async def test_redis_event_reader_closes_when_its_read_loses_the_cancel(
    redis: Backend, mode: str
) -> None:
    from redis.exceptions import TimeoutError as RedisTimeout

    from qgen.runtime.backends.base import AddOptions

    conn: Any = redis
    call = Call(mode, error=RedisTimeout("Timeout reading from server"))
    _hang_read(conn.shared, "xread", call)
    try:
        job_id = await redis.enqueue("loops", {"n": 1}, AddOptions())
        waiting = asyncio.create_task(redis.wait("loops", job_id, 30))  # starts the reader
        await asyncio.wait_for(call.entered.wait(), 10)
        waiting.cancel()
        reader = conn.shared.events._task
        await stops_when_cancelled(reader, call)
    finally:
        call.honest = True
        del conn.shared.blocking_client

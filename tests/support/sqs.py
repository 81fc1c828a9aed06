"""SQS test server: moto's standalone server on 127.0.0.1, one per test session (process).

``backend_url(tmp_path)`` yields ``sqs://us-east-1?endpoint_url=http://127.0.0.1:<port>&
prefix=qgen-test-<random>-`` and deletes that prefix's queues afterwards. The server starts on
first use (from the ``moto_server`` fixture or from ``backend_url`` directly) and stops at exit.
Dummy AWS credentials are set here so boto3 never looks for real ones; every URL points at the
local server, never at AWS.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_key] = _value
os.environ.pop("AWS_PROFILE", None)

REGION = "us-east-1"
logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_MOTO_LOCK = threading.RLock()


def atomic_moto_sqs() -> None:
    """Make moto's SQS store what SQS promises under concurrent calls (moto 5.2.5 does not).

    moto's threaded server checks a FIFO message's deduplication id against the stored ones, and
    a receive picks the visible messages and marks them received, both without a lock; a send
    wakes every long poll of the queue at once. So two workers' claims of one schedule tick can
    both be stored, or one claim handed to two workers' long polls, and the tick runs twice
    (seen once in the suite; a thread switch interval of 10 us makes it happen within seconds).
    SQS stores one message per deduplication id in 5 minutes and never hands a FIFO message to
    two receivers within its visibility timeout. Here every add, and every receive pass, holds
    one lock; a long poll waits outside it, as moto's own wait does. Idempotent."""
    from moto.sqs.models import Queue, SQSBackend

    if getattr(Queue.add_message, "qgen_atomic", False):
        return
    add_message, receive_message = Queue.add_message, SQSBackend.receive_message

    def atomic_add(self: Any, message: Any) -> None:
        with _MOTO_LOCK:
            add_message(self, message)

    def atomic_receive(
        self: Any,
        queue_name: str,
        count: int,
        wait_seconds_timeout: int,
        visibility_timeout: int,
        message_attribute_names: list[str] | None = None,
    ) -> list[Any]:
        end = time.monotonic() + wait_seconds_timeout
        while True:
            with _MOTO_LOCK:  # one pass, no wait: moto's receive with a timeout of 0
                got: list[Any] = receive_message(
                    self, queue_name, count, 0, visibility_timeout, message_attribute_names
                )
            if got or time.monotonic() >= end:
                return got
            self.get_queue(queue_name).wait_for_messages(1)

    atomic_add.qgen_atomic = True  # type: ignore[attr-defined]
    Queue.add_message = atomic_add  # type: ignore[method-assign]
    SQSBackend.receive_message = atomic_receive  # type: ignore[method-assign]


class MotoSqs:
    """One ThreadedMotoServer that tests can stop and start again on the same port (its SQS
    made atomic where SQS is: :func:`atomic_moto_sqs`)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        atomic_moto_sqs()
        with self._lock:
            if self._server is None:
                server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
                server.start()
                self._server = server

    def stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def reset_state(self) -> None:
        """Forget every queue and message, as a restarted in-memory server would. moto keeps its
        state in this process across stop/start, so a restart alone would keep it."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).close()

    def client(self) -> Any:
        import boto3

        return boto3.client("sqs", region_name=REGION, endpoint_url=self.endpoint)


_SERVER: MotoSqs | None = None
_SERVER_LOCK = threading.Lock()


def server() -> MotoSqs:
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None:
            _SERVER = MotoSqs()
            atexit.register(_SERVER.stop)
        _SERVER.start()
        return _SERVER


@pytest.fixture(scope="session")
def moto_server() -> MotoSqs:
    return server()


def new_prefix() -> str:
    return f"qgen-test-{secrets.token_hex(4)}-"


def url_for(srv: MotoSqs, prefix: str, **params: str) -> str:
    """The URL of ``prefix`` on ``srv``. Workers read the paused tag every second here
    (``pause_check=1``; the default of 10 s spares AWS's tagging quota, which moto lacks)."""
    params = {"pause_check": "1", **params}
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return f"sqs://{REGION}?endpoint_url={srv.endpoint}&prefix={prefix}{extra}"


def delete_queues(srv: MotoSqs, prefix: str) -> None:
    if not srv.running:
        return
    client = srv.client()
    try:
        for url in client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            with contextlib.suppress(Exception):
                client.delete_queue(QueueUrl=url)
    finally:
        client.close()


@contextlib.contextmanager
def backend_url(tmp_path: Path) -> Iterator[str]:
    """A fresh queue prefix on the session's moto server; its queues are created on demand
    (``create=1``) and deleted afterwards."""
    srv = server()
    prefix = new_prefix()
    try:
        yield url_for(srv, prefix, create="1")
    finally:
        delete_queues(srv, prefix)


ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "tests" / "sqs"  # holds sqs_test_app, the wiring of the worker subprocesses


class WorkerProc:
    """``python -m qgen.runtime.worker`` on the SQS test app, in its own process. Completed jobs
    are logged as ``<pid> <job id> <attempt>`` lines to ``log``."""

    def __init__(self, url: str, queues: str, log: Path, grace: float = 5.0) -> None:
        import subprocess
        import sys

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(APP_DIR), env.get("PYTHONPATH", "")])
        env["SQS_TEST_LOG"] = str(log)
        self.stderr_path = log.with_suffix(f".{secrets.token_hex(3)}.stderr")
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qgen.runtime.worker",
                "--url",
                url,
                "--wiring",
                "sqs_test_app",
                "--services",
                "sqs_test_app:create_services",
                "--queues",
                queues,
                "--grace",
                str(grace),
            ],
            env=env,
            stdout=self._stderr,
            stderr=self._stderr,
        )

    def kill(self) -> None:
        import signal

        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._stderr.close()

    def terminate(self, timeout: float = 30) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._stderr.close()
        return code

    def output(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def read_log(log: Path) -> list[tuple[int, str, int]]:
    """(pid, job id, attempt) of every completed run so far."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        pid, job, attempt = line.split()
        out.append((int(pid), job, int(attempt)))
    return out


def queue_depth(srv: MotoSqs, prefix: str, queue: str) -> int:
    """Messages in the queue, visible, in flight or delayed."""
    client = srv.client()
    try:
        url = client.get_queue_url(QueueName=prefix + queue)["QueueUrl"]
        attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return sum(
            int(attrs.get(k, 0))
            for k in (
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            )
        )
    finally:
        client.close()


def _client_for(url: str) -> tuple[Any, str]:
    """A boto3 SQS client for the server of an ``sqs://`` URL, and the URL's queue prefix."""
    import urllib.parse

    import boto3

    parts = urllib.parse.urlsplit(url)
    params = dict(urllib.parse.parse_qsl(parts.query))
    client = boto3.client("sqs", region_name=parts.netloc, endpoint_url=params["endpoint_url"])
    return client, params.get("prefix", "")


def queue_url_at(url: str, queue: str) -> str:
    """The SQS queue URL of ``queue`` under an ``sqs://`` URL's server and prefix."""
    client, prefix = _client_for(url)
    try:
        return str(client.get_queue_url(QueueName=prefix + queue)["QueueUrl"])
    finally:
        client.close()


def messages_left(url: str, queue: str) -> int:
    """Messages of ``queue`` (visible, in flight or delayed) on the server and prefix of an
    ``sqs://`` URL; 0 when the queue does not exist."""
    client, prefix = _client_for(url)
    try:
        try:
            queue_url = client.get_queue_url(QueueName=prefix + queue)["QueueUrl"]
        except client.exceptions.QueueDoesNotExist:
            return 0
        attrs = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])
        return sum(int(attrs["Attributes"].get(k, 0)) for k in _DEPTH_KEYS)
    finally:
        client.close()


_DEPTH_KEYS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def lambda_event(srv: MotoSqs, queue_url: str, want: int, wait: float = 10) -> dict[str, Any]:
    """ReceiveMessage results reshaped the way Lambda's SQS event source delivers them."""
    client = srv.client()
    arn = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    msgs: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait
    while len(msgs) < want and time.monotonic() < deadline:
        msgs += client.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
    client.close()
    records = []
    for m in msgs:
        attrs = {
            k: {
                "stringValue": v.get("StringValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": v["DataType"],
            }
            for k, v in (m.get("MessageAttributes") or {}).items()
        }
        records.append(
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": attrs,
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}

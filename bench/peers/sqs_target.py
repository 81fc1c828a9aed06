"""The SQS target of ``bench/throughput.py`` (not a peer): moto's standalone server for the run
(when no ``--url`` is given), a fresh queue-name prefix per measurement whose queues are created
as ``qgen setup`` creates them and deleted afterwards, and a probe for "the queue is empty".

SQS keeps no count of completed messages, so the harness ends the timing once the bench app's
meter wrote its ``end`` mark (the worker ran all jobs) AND the queue holds nothing visible, in
flight or delayed (the last deletes arrived). moto's counts are exact; AWS's are approximate and
lag, so on AWS the end is seen late (figures biased low). For the same reason the target has no
``completed`` and times one worker process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench.ports import free_port

DEFAULT_URL = "sqs://us-east-1?endpoint_url={moto}"  # {moto}: the server started for the run
MANIFEST = Path(__file__).resolve().parents[1] / "app" / "benchapp" / "generated" / "manifest.json"
ONE_WORKER = (
    "SQS keeps no count of completed messages (its queue depths are approximate on AWS), so the "
    "bench can time only one worker process, whose meter marks the end: use --workers 1"
)
_DEPTH = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
_DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_CLIENTS: dict[tuple[str | None, str | None], Any] = {}


@contextlib.contextmanager
def server() -> Iterator[str]:
    """moto's standalone server in its own process on 127.0.0.1 (a free port), so it does not
    share the bench's GIL; yields the run's default URL and stops the server on exit. Dummy
    credentials go into this process's environment (the workers inherit it), so nothing real
    is ever sent to the local server."""
    os.environ.update(_DUMMY_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield DEFAULT_URL.replace("{moto}", endpoint)
    finally:
        _close_clients()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _params(url: str) -> tuple[str | None, str | None, str]:
    """(region, endpoint_url, prefix) of an ``sqs://`` URL."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    return parts.hostname or None, query.get("endpoint_url") or None, query.get("prefix", "")


def _client(url: str) -> Any:
    import boto3

    region, endpoint, _ = _params(url)
    client = _CLIENTS.get((region, endpoint))
    if client is None:
        client = _CLIENTS[region, endpoint] = boto3.client(
            "sqs", region_name=region, endpoint_url=endpoint
        )
    return client


def _close_clients() -> None:
    for client in _CLIENTS.values():
        client.close()
    _CLIENTS.clear()


def _setup(url: str) -> None:
    """What ``qgen setup --url URL`` does in bench/app: the manifest's queues (with their
    visibility timeouts and any dead-letter queues) through the backend registry."""
    from qgen.runtime.backends.registry import provision
    from qgen.runtime.manifest import load_manifest

    queues = {name: dict(q.config) for name, q in load_manifest(MANIFEST).queues.items()}
    asyncio.run(provision(url, queues))


def _local_credentials(url: str) -> None:
    """Dummy credentials for a server on this machine (``--url`` pointing at a moto the user
    started), unless the environment names some: boto3 refuses to sign without any."""
    endpoint = _params(url)[1]
    host = urlsplit(endpoint).hostname if endpoint else None
    if host in ("127.0.0.1", "localhost", "::1") and not (
        os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")
    ):
        os.environ.update(_DUMMY_CREDENTIALS)


@contextlib.contextmanager
def fresh(url: str, tmp: Path, option: str | None) -> Iterator[str]:
    """A fresh prefix (``qgen-bench-<hex>-``) on the URL's server or account, its queues set
    up before and deleted after."""
    prefix = f"qgen-bench-{uuid.uuid4().hex[:10]}-"
    sep = "&" if "?" in url else "?"
    fresh_url = f"{url}{sep}prefix={prefix}"
    _local_credentials(url)
    try:
        _setup(fresh_url)
        yield fresh_url
    finally:
        client = _client(url)
        for queue_url in client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
            with contextlib.suppress(Exception):  # deleted already, or throttled: say nothing
                client.delete_queue(QueueUrl=queue_url)


def all_done(url: str, queue: str, jobs: int) -> bool:
    """The queue holds no message, visible, in flight or delayed (exact on moto, approximate on
    AWS). The harness asks only after the worker's ``end`` mark (``Target.needs_mark``): an
    empty queue alone could also mean "not filled yet" on AWS."""
    client = _client(url)
    _, _, prefix = _params(url)
    queue_url = client.get_queue_url(QueueName=prefix + queue)["QueueUrl"]
    attrs = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_DEPTH))
    return sum(int(attrs["Attributes"].get(k, 0)) for k in _DEPTH) == 0

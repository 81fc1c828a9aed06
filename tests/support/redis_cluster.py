"""A local Redis Cluster for the tests: three masters (no replicas) on free loopback ports,
started with ``redis-server --cluster-enabled yes`` and joined with ``redis-cli --cluster
create``, in a temporary directory; stopped (and the directory removed) whatever happens.

:func:`running_cluster` yields the ``redis+cluster://`` URL of its nodes; :func:`backend_url`
adds a unique hash-tagged prefix (``{qgen-test-<random>}``) and deletes its keys afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis
from support.require import missing

SERVER = shutil.which("redis-server")
CLI = shutil.which("redis-cli")
MASTERS = 3


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(n: int) -> list[int]:
    """``n`` ports free on loopback whose cluster bus ports (+10000) are free too."""
    out: list[int] = []
    while len(out) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 < 65536 and port not in out and _free(port + 10000):
            out.append(port)
    return out


def _wait(pred: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if pred():  # type: ignore[operator]
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the test cluster: timed out waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_cluster(replicas: int = 0) -> Iterator[str]:
    """A fresh three-master cluster (with ``replicas`` replicas per master, which take over
    within about a second of their master's death); yields ``redis+cluster://127.0.0.1:p1,...``
    listing the masters first."""
    if SERVER is None or CLI is None:
        missing("redis-server and redis-cli are needed for the Redis Cluster tests")
    assert SERVER is not None and CLI is not None
    tmp = Path(tempfile.mkdtemp(prefix="qgen-cluster-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ports = _ports(MASTERS * (1 + replicas))
        for port in ports:
            node_dir = tmp / str(port)
            node_dir.mkdir()
            cmd = [SERVER, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes"]
            cmd += ["--cluster-config-file", str(node_dir / "nodes.conf"), "--dir", str(node_dir)]
            cmd += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
            cmd += ["--cluster-node-timeout", "1000"]
            log = open(node_dir / "log", "wb")  # noqa: SIM115  (closed with the process)
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
        for port in ports:
            _wait(lambda p=port: redis.Redis(port=p).ping(), f"node {port} to start")
        addrs = [f"127.0.0.1:{p}" for p in ports]
        create = [CLI, "--cluster", "create", *addrs, "--cluster-yes"]
        subprocess.run(
            [*create, "--cluster-replicas", str(replicas)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in ports:
            _wait(
                lambda p=port: redis.Redis(port=p).cluster("info")["cluster_state"] == "ok",
                f"node {port} to join",
            )
        if replicas:
            _wait(lambda: _replicas_synced(ports[0], replicas * MASTERS), "the replicas")
        yield "redis+cluster://" + ",".join(addrs)
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _replicas_synced(port: int, expected: int) -> bool:
    nodes = redis.Redis(port=port, decode_responses=True).execute_command("CLUSTER", "NODES")
    text = nodes if isinstance(nodes, str) else ""
    lines = [ln for ln in text.splitlines() if " slave " in ln or ",slave " in ln]
    return len(lines) >= expected and all(" connected" in ln for ln in lines)


def delete_prefix(cluster_url: str, prefix: str) -> None:
    for addr in cluster_url.split("://", 1)[1].split("/")[0].split(","):
        host, port = addr.rsplit(":", 1)
        client = redis.Redis(host=host, port=int(port))
        try:
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.unlink(key)
        except redis.RedisError:
            pass
        finally:
            client.close()


@contextlib.contextmanager
def backend_url(cluster_url: str) -> Iterator[str]:
    """``<cluster_url>/?prefix={qgen-test-<random>}``."""
    tag = f"qgen-test-{uuid.uuid4().hex[:12]}"
    try:
        yield f"{cluster_url}/?prefix={{{tag}}}"
    finally:
        delete_prefix(cluster_url, "{" + tag + "}")

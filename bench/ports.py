"""A free TCP port on loopback, for the servers the benches start (moto, the dashboard, a
worker's metrics endpoint)."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port

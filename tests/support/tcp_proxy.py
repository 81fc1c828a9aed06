"""A TCP forwarder on loopback, to take a real server away from a client mid-life without
stopping the server the other tests share: :meth:`TcpProxy.cut` closes the listening socket and
every forwarded connection, so the client then meets refused and closed connections."""

from __future__ import annotations

import asyncio
import contextlib
import re
from types import TracebackType


class TcpProxy:
    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cut()

    def route(self, url: str) -> str:
        """``url`` with the target's ``127.0.0.1:<port>`` pointed at this proxy."""
        pattern = rf"127\.0\.0\.1(:|%3A){self.target[1]}\b"
        routed, n = re.subn(pattern, lambda m: f"127.0.0.1{m.group(1)}{self.port}", url)
        if not n:
            raise ValueError("the URL does not name the proxied server")
        return routed

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
            self._writers.discard(dst)


def server_port(url: str) -> int | None:
    """The port of the loopback server ``url`` names (``127.0.0.1:<port>``), if any."""
    m = re.search(r"127\.0\.0\.1(?::|%3A)(\d+)", url)
    return int(m.group(1)) if m else None

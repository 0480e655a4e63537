"""A small asyncio HTTP/1.1 client with a keep-alive connection pool (stdlib only), for
``zenoo-retry demo``. It counts what it sends and what comes back, so the demo can check
its own numbers against the server's."""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import List, Optional, Tuple

__all__ = ["HTTPStatusError", "Pool"]


class HTTPStatusError(Exception):
    """A non-2xx answer. ``status_code`` (what zenoo_retry's classifiers read) and
    ``retry_after`` (seconds from a Retry-After header, or None)."""

    def __init__(self, status_code: int, retry_after: Optional[float] = None) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code
        self.retry_after = retry_after


Conn = Tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Pool:
    """At most ``size`` connections to ``host:port``; ``get(path)`` returns the body of a
    2xx answer or raises :class:`HTTPStatusError` / ``ConnectionError``."""

    def __init__(self, host: str, port: int, size: int = 64) -> None:
        self.host, self.port = host, port
        self._idle: List[Conn] = []
        self._slots = asyncio.Semaphore(size)
        self.sent = 0  # requests written to a connection
        self.answers: Counter = Counter()  # status -> answers read
        self.broken = 0  # requests whose answer never came (timeout, reset)

    async def get(self, path: str = "/") -> bytes:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await asyncio.open_connection(self.host, self.port)
            reader, writer = conn
            done = sent = False
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode("ascii"))
                self.sent += 1
                sent = True
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    raise ConnectionResetError("connection closed by the server") from exc
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ", 2)[1])
                length, retry_after = 0, None
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "retry-after":
                        try:
                            retry_after = float(value)
                        except ValueError:
                            retry_after = None
                body = await reader.readexactly(length) if length else b""
                done = True
            finally:
                if done:
                    self._idle.append(conn)
                else:
                    self.broken += sent
                    writer.close()
            self.answers[status] += 1
            if not 200 <= status < 300:
                raise HTTPStatusError(status, retry_after)
            return body

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

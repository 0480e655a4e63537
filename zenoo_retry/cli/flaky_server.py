"""A deliberately unreliable HTTP/1.1 service on 127.0.0.1, for ``zenoo-retry demo``.

It answers ``GET`` with 200 after ``latency`` seconds, except:

- **rate limiting**: a token bucket of ``rate_limit`` requests/s (burst: a tenth of a
  second's worth); a request without a token gets ``429`` with ``Retry-After``;
- **outage**: between ``outage[0]`` and ``outage[1]`` seconds into a phase, every request
  gets ``503`` at once (a dead backend behind a load balancer);
- **errors**: otherwise a request fails with ``500`` with probability ``error_rate``.

Everything it receives is counted here, on the server side (total, per status, per
100 ms bucket): the demo's load figures are these counts, not what the clients believe
they sent. Keep-alive connections; asyncio streams; stdlib only.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Set, Tuple

__all__ = ["Faults", "FlakyServer", "BUCKET"]

BUCKET = 0.1  # seconds per timeline bucket
_REASONS = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Faults:
    """What goes wrong, and when (times are seconds since the phase began)."""

    error_rate: float = 0.1
    latency: float = 0.005
    outage: Optional[Tuple[float, float]] = None
    rate_limit: float = 0.0  # requests per second; 0: unlimited
    retry_after: int = 1  # seconds, sent with 429

    def __post_init__(self) -> None:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {self.error_rate!r}")
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0, got {self.latency!r}")
        if self.outage is not None and not 0 <= self.outage[0] < self.outage[1]:
            raise ValueError(f"outage must be (start, end) with 0 <= start < end, got {self.outage!r}")
        if self.rate_limit < 0:
            raise ValueError(f"rate_limit must be >= 0, got {self.rate_limit!r}")


@dataclass
class ServerStats:
    """What the server saw during one phase."""

    received: int = 0
    by_status: Counter = field(default_factory=Counter)
    timeline: List[int] = field(default_factory=list)  # requests received per BUCKET

    def count(self, elapsed: float) -> None:
        self.received += 1
        i = max(0, int(elapsed / BUCKET))
        if i >= len(self.timeline):
            self.timeline.extend([0] * (i + 1 - len(self.timeline)))
        self.timeline[i] += 1


class FlakyServer:
    """``await start()``, then ``begin_phase()`` before each run; ``stats`` holds the counts."""

    def __init__(self, faults: Faults, *, seed: Optional[int] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.faults = faults
        self.clock = clock
        self.seed = seed
        self._rng = random.Random(seed)
        self._server: Optional[asyncio.AbstractServer] = None
        self._handlers: Set["asyncio.Task[None]"] = set()
        self._writers: Set[asyncio.StreamWriter] = set()
        self.port = 0
        self.stats = ServerStats()
        self.phase_start = clock()
        self._tokens = 0.0
        self._refilled = self.phase_start

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0: any free port); returns the port."""
        self._server = await asyncio.start_server(self._serve, host, port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            # end each connection with EOF so its handler returns normally (a cancelled
            # handler makes asyncio 3.11 log a spurious "Unhandled exception")
            for writer in list(self._writers):
                writer.close()
            await asyncio.gather(*list(self._handlers), return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def begin_phase(self) -> None:
        """Zero the counters and restart the fault timeline (outage times count from now)
        and the error draws (the same seed gives every phase the same sequence)."""
        self.stats = ServerStats()
        self._rng.seed(self.seed)
        self.phase_start = self._refilled = self.clock()
        self._tokens = self._burst()

    def _burst(self) -> float:
        return max(1.0, self.faults.rate_limit / 10.0)

    def in_outage(self, elapsed: float) -> bool:
        out = self.faults.outage
        return out is not None and out[0] <= elapsed < out[1]

    def _decide(self, now: float) -> int:
        f = self.faults
        if f.rate_limit > 0:
            self._tokens = min(self._burst(), self._tokens + (now - self._refilled) * f.rate_limit)
            self._refilled = now
            if self._tokens < 1.0:
                return 429
            self._tokens -= 1.0
        if self.in_outage(now - self.phase_start):
            return 503
        if f.error_rate > 0 and self._rng.random() < f.error_rate:
            return 500
        return 200

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n\r\n")  # GET only: no body
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                now = self.clock()
                stats = self.stats
                stats.count(now - self.phase_start)
                status = self._decide(now)
                stats.by_status[status] += 1
                if status in (200, 500) and self.faults.latency > 0:
                    await asyncio.sleep(self.faults.latency)
                body = b"ok\n" if status == 200 else b"error\n"
                extra = f"Retry-After: {self.faults.retry_after}\r\n" if status == 429 else ""
                writer.write((f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Length: {len(body)}\r\n"
                              f"{extra}\r\n").encode("ascii") + body)
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
        except ConnectionError:
            return
        finally:
            if task is not None:
                self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

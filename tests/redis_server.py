"""A real ``redis-server`` for the tests: loopback only, a free port, a temp dir, no persistence.

>>> with RedisServer() as server:          # doctest: +SKIP
...     server.port                         # 127.0.0.1:<port>
...     server.restart()                    # same port, empty data (nothing is persisted)

The binary comes from ``scripts/bootstrap.sh`` (Debian package ``redis-server``). Tests that
need it use :func:`require_redis_server` to skip cleanly where it is missing.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Optional

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def require_redis_server() -> str:
    """The redis-server path, or skip the calling test when it is not installed."""
    import pytest  # lazily: the benchmarks use this module too

    if not os.access(REDIS_SERVER, os.X_OK):
        pytest.skip("redis-server is not installed (run scripts/bootstrap.sh)")
    try:
        import redis  # noqa: F401
    except ImportError:
        pytest.skip("redis-py is not installed (pip install zenoo_retry[redis])")
    return REDIS_SERVER


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on 127.0.0.1 that the test owns (start, stop, restart, pause)."""

    def __init__(self, port: Optional[int] = None, binary: Optional[str] = None) -> None:
        self.binary = binary or require_redis_server()
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="zr-redis-")
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        """Start the server and wait until it answers PING (raises if it never does)."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.dir,
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", os.path.join(self.dir, "redis.log"),
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {self.log()}")
            if self._ping():
                return self
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port}: {self.log()}")

    def _ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server (SIGKILL: an abrupt crash, nothing saved) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)  # in case the test paused it
            except ProcessLookupError:
                pass
            proc.kill()
        proc.wait(timeout=10)

    def restart(self) -> "RedisServer":
        """Crash and start again on the same port: data and loaded scripts are gone."""
        self.stop()
        return self.start()

    def pause(self) -> None:
        """SIGSTOP: the server accepts connections but never answers (a 'slow' Redis)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

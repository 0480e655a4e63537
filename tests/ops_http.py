"""A scripted HTTP server on 127.0.0.1 for the operations-toolkit tests.

Each path has a list of replies served in order (the last one repeats):
``(status, headers, body)``, or ``("sleep", seconds)`` to answer 200 only after a pause
(for client timeouts). Every request is counted per path.
"""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Tuple


class ScriptedServer:
    def __init__(self) -> None:
        self.script: Dict[str, List[tuple]] = {}
        self.hits: Dict[str, int] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                reply = server._next(self.path)
                if reply[0] == "sleep":
                    server._release.wait(reply[1])
                    reply = (200, {}, b"late")
                status, headers, body = reply
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, *replies: tuple) -> str:
        with self._lock:
            self.script[path] = list(replies)
            self.hits[path] = 0
        return self.url(path)

    def _next(self, path: str) -> tuple:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            replies = self.script.get(path) or [(404, {}, b"no script")]
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def closed_port() -> int:
    """A loopback port with nothing listening (bound then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_date(ts: float) -> str:
    """``ts`` (Unix seconds) as an IMF-fixdate."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


OK: Tuple[int, dict, bytes] = (200, {}, b"ok")

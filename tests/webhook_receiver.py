"""A real HTTP receiver for webhook tests: http.server on 127.0.0.1, an ephemeral port, a thread.

It records every request (path, headers, body) and answers from a script of responses: each entry
an HTTP status, or a (status, headers) pair, or the string "slow" (sleep past the client's
timeout, then 200). When the script runs out it answers ``default``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: Message  # case-insensitive, as HTTP headers are (urllib sends "X-lims-event")
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    script: list[object] = field(default_factory=list)
    default: int = 200
    slow_seconds: float = 2.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_answer(self) -> object:
        with self.lock:
            return self.script.pop(0) if self.script else self.default

    def received(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [request for request in self.requests if path is None or request.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(Received(path=self.path, headers=self.headers, body=body))
            answer = receiver.next_answer()
            headers: dict[str, str] = {}
            if answer == "slow":
                time.sleep(receiver.slow_seconds)
                answer = 200
            if isinstance(answer, tuple):
                answer, headers = answer
            assert isinstance(answer, int)
            text = b"ok" if 200 <= answer < 300 else b"receiver says no"
            self.send_response(answer)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (a timeout test)
                self.wfile.write(text)

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


@contextmanager
def running_receiver(**kwargs: object) -> Iterator[Receiver]:
    receiver = Receiver(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

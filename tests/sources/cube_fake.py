"""A stand-in for a remote Cube deployment: Cube's REST protocol over a real local socket.

`FakeCube` is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (a free port) in a background thread. It
records every request (path, headers, JSON body, arrival time) and answers ``POST /cubejs-api/v1/load``
from a script of replies for the next requests (`script`), then from a script for the requests of
one page (`script_page`, keyed by the query's ``offset``), or, once those run out, from `rows` the
way Cube does: the ``data`` rows after ``offset``, at most ``limit`` of them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    #: seconds to wait before answering (to provoke a client timeout)
    delay_s: float = 0.0


def continue_wait() -> Reply:
    return Reply(200, {"error": "Continue wait"})


def error(status: int, message: str, **extra: Any) -> Reply:
    return Reply(status, {"error": message, **extra})


def data(rows: list[dict[str, Any]]) -> Reply:
    return Reply(200, {"query": {}, "data": rows, "annotation": {}})


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    #: `time.monotonic()` when the request arrived
    at: float = 0.0

    @property
    def query(self) -> dict[str, Any]:
        return self.body["query"]


@dataclass
class FakeCube:
    rows: list[dict[str, Any]] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._script: deque[Reply] = deque()
        self._page_scripts: dict[int, deque[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-cube", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order, then fall back to `rows`."""
        with self._lock:
            self._script.extend(replies)

    def script_page(self, offset: int, *replies: Reply) -> None:
        """Answer the next requests for the page at `offset` with these replies, then from `rows`."""
        with self._lock:
            self._page_scripts.setdefault(offset, deque()).extend(replies)

    def offsets(self) -> list[int]:
        """The ``offset`` of every load request so far, in order (0 when the query has none)."""
        with self._lock:
            return [r.query.get("offset", 0) for r in self.requests if r.path == "/cubejs-api/v1/load"]

    def start(self) -> FakeCube:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            if self._script:
                return self._script.popleft()
            if request.path != "/cubejs-api/v1/load":
                return error(404, f"no route {request.path}")
            query = request.query
            offset = query.get("offset", 0)
            if self._page_scripts.get(offset):
                return self._page_scripts[offset].popleft()
        return data(self.rows[offset : offset + query.get("limit", 10_000)])


def _handler_for(fake: FakeCube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            reply = fake._answer(RecordedRequest("POST", self.path, headers, body, time.monotonic()))
            if reply.delay_s:
                time.sleep(reply.delay_s)
            payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            encoded = payload.encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

    return Handler

"""Real local receivers for delivery tests and benchmarks: an HTTP server and an SMTP server.

`HttpReceiver` stands in for Slack's incoming webhooks and for a customer's webhook;
`SmtpReceiver` (aiosmtpd) for a mail server. Both listen on 127.0.0.1 on a free port, run in a
thread of their own (so they serve a test's event loop, a worker process or a benchmark alike),
record everything they receive, and fail on request: a seeded share of requests, fixed answers
for given paths or recipients, slowness.

    async with HttpReceiver(fail_rate=0.3, seed=7) as slack:
        await transports.slack(f"{slack.base_url}/services/T1/B1/x", payload, key="k1")
    assert slack.duplicates() == {}

    with SmtpReceiver(refuse={"nobody@example.org"}) as smtp:
        settings = NotifySettings(smtp_host=smtp.host, smtp_port=smtp.port, smtp_tls="none")
"""

from __future__ import annotations

import asyncio
import email
import email.message
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from devstack import free_port

#: what a failing receiver answers, drawn at random, unless told otherwise
DEFAULT_FAIL_STATUSES = (500, 503)


@dataclass(frozen=True)
class Reply:
    """A fixed answer: ``Reply(404, "no_service")``, ``Reply(429, "rate_limited", {"Retry-After": "7"})``."""

    status: int
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    #: the path without the query
    path: str
    query: str
    #: header names in lower case
    headers: dict[str, str]
    body: bytes
    #: `time.time()` when the request was read, and the status answered
    time: float
    status: int

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, str, dict[str, str], bytes] | None:
    """One HTTP/1.1 request: method, target, version, headers (names in lower case), body; None at EOF."""
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, version = line.decode("latin-1").strip().split(" ", 2)
    headers: dict[str, str] = {}
    while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = raw.decode("latin-1").partition(":")
        name = name.strip().lower()
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
            pass
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length") or 0))
    return method, target, version, headers, body


def _response(reply: Reply, *, keep_alive: bool) -> bytes:
    """The whole answer in one buffer: one write, no Nagle wait between headers and body."""
    payload = reply.body.encode()
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [
        f"HTTP/1.1 {reply.status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        *(f"{name}: {value}" for name, value in reply.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class HttpReceiver:
    """A real HTTP/1.1 server on 127.0.0.1 that records requests and answers 200 ``ok``, or not.

    - `fail_rate`: the share of requests answered with a failure, drawn from `random.Random(seed)`;
      the failure is `fail_status` (one status, or a choice among several), else 500 or 503;
    - `delay_s`: how long every answer waits (the request is recorded on arrival);
    - `routes`: fixed answers by path (``{"/services/T/B/gone": Reply(404, "no_service")}``),
      changeable while running with `set_reply`.
    """

    def __init__(
        self,
        *,
        fail_rate: float = 0.0,
        seed: int = 0,
        fail_status: int | Iterable[int] | None = None,
        delay_s: float = 0.0,
        routes: Mapping[str, Reply] | None = None,
    ) -> None:
        self.fail_rate = fail_rate
        statuses = DEFAULT_FAIL_STATUSES if fail_status is None else fail_status
        self.fail_statuses = (statuses,) if isinstance(statuses, int) else tuple(statuses)
        self.delay_s = delay_s
        self.routes = dict(routes or {})
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- running ---------------------------------------------------------------------------------
    # The server runs on an event loop of its own, in one thread: it serves a test's loop, another
    # process or a benchmark alike, and (unlike a thread per connection) does not fight a client in
    # the same process for the GIL when hundreds of connections are open.

    def start(self) -> HttpReceiver:
        self._ready.clear()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve_until_stopped(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._startup_error is not None:
            self._thread.join(1)
            self._thread = None
            raise RuntimeError("the HTTP receiver did not start") from self._startup_error
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._thread = None

    async def _serve_until_stopped(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        connections: set[asyncio.Task] = set()

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections.add(task)
            try:
                await self._converse(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
                pass  # a client that went away (a timeout test) or spoke nonsense
            except asyncio.CancelledError:
                pass  # the receiver stopping: the connection ends here, quietly
            finally:
                connections.discard(task)
                writer.close()

        try:
            server = await asyncio.start_server(connected, "127.0.0.1", 0, backlog=1024)
        except OSError as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            for task in list(connections):  # idle keep-alive connections wait for a next request
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests of one connection, answered in turn, until the client closes it."""
        while (request := await _read_request(reader)) is not None:
            method, target, version, headers, body = request
            received_at = time.time()
            split = urlsplit(target)
            reply = self._decide(split.path)
            self._record(ReceivedRequest(method, split.path, split.query, headers, body, received_at, reply.status))
            connection = headers.get("connection", "").lower()
            keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            writer.write(_response(reply, keep_alive=keep_alive))
            await writer.drain()
            if not keep_alive:
                return

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> HttpReceiver:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- behaviour -------------------------------------------------------------------------------

    def set_reply(self, path: str, reply: Reply | None) -> None:
        """Answer `reply` to every request to `path` from now on (None: back to the default)."""
        with self._lock:
            if reply is None:
                self.routes.pop(path, None)
            else:
                self.routes[path] = reply

    def _decide(self, path: str) -> Reply:
        with self._lock:
            if path in self.routes:
                return self.routes[path]
            if self.fail_rate and self._random.random() < self.fail_rate:
                return Reply(self._random.choice(self.fail_statuses), "internal_error")
        return Reply(200, "ok")

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # -- what was received -----------------------------------------------------------------------

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        """Every request received (at `path`, if given), in arrival order, failed ones included."""
        with self._lock:
            return [r for r in self._requests if path is None or r.path == path]

    def unique_keys(self) -> set[str]:
        """The ``Idempotency-Key`` values of the requests answered 2xx."""
        return {r.key for r in self.received() if r.ok and r.key is not None}

    def duplicates(self) -> dict[str, int]:
        """Keys answered 2xx more than once, with how many times: what a receiver would drop.

        A request whose answer came after the client gave up (`delay_s` past its timeout) counts:
        the receiver did process it, which is how a timeout and its retry make a duplicate.
        """
        counts = Counter(r.key for r in self.received() if r.ok and r.key is not None)
        return {key: n for key, n in counts.items() if n > 1}


# -- SMTP ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.Message
    time: float

    @property
    def message_id(self) -> str | None:
        return self.message.get("Message-ID")

    @property
    def subject(self) -> str | None:
        return self.message.get("Subject")

    def part(self, content_type: str) -> str | None:
        """The decoded text of the message's first `content_type` part (``text/plain``, ``text/html``)."""
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                payload = part.get_payload(decode=True)
                return payload.decode(part.get_content_charset() or "utf-8") if payload is not None else None
        return None


class _SmtpHandler:
    def __init__(self, receiver: SmtpReceiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:  # noqa: N802
        if address.lower() in self.receiver.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.receiver._draw_failure():
            return "451 4.3.0 try again later"
        content = envelope.original_content or envelope.content
        message = email.message_from_bytes(content if isinstance(content, bytes) else content.encode())
        self.receiver._record(ReceivedEmail(envelope.mail_from, list(envelope.rcpt_tos), message, time.time()))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records messages, or refuses them.

    - `fail_rate`: the share of DATA commands answered ``451 4.3.0 try again later`` (seeded);
    - `refuse`: recipients answered ``550 5.1.1 no such user`` at RCPT;
    - `users`: when given, AUTH is required (over plain SMTP) and only these logins pass.
    """

    def __init__(
        self,
        *,
        fail_rate: float = 0.0,
        seed: int = 0,
        refuse: Iterable[str] = (),
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.fail_rate = fail_rate
        self.refuse = {address.lower() for address in refuse}
        self.users = dict(users) if users is not None else None
        self.host = "127.0.0.1"
        self.port = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._messages: list[ReceivedEmail] = []
        self._controller: Controller | None = None

    def start(self) -> SmtpReceiver:
        self.port = free_port()
        auth = {}
        if self.users is not None:
            auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_SmtpHandler(self), hostname=self.host, port=self.port, **auth)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> SmtpReceiver:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def _draw_failure(self) -> bool:
        with self._lock:
            return bool(self.fail_rate) and self._random.random() < self.fail_rate

    def _record(self, received: ReceivedEmail) -> None:
        with self._lock:
            self._messages.append(received)

    # -- what was received -----------------------------------------------------------------------

    def received(self) -> list[ReceivedEmail]:
        """Every message accepted, in arrival order."""
        with self._lock:
            return list(self._messages)

    def unique_keys(self) -> set[str]:
        """The Message-IDs of the accepted messages."""
        return {m.message_id for m in self.received() if m.message_id}

    def duplicates(self) -> dict[str, int]:
        """Message-IDs accepted more than once, with how many times."""
        counts = Counter(m.message_id for m in self.received() if m.message_id)
        return {key: n for key, n in counts.items() if n > 1}

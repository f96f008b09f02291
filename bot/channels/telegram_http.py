"""A small HTTP/1.1 client for the Bot API's JSON calls: keep-alive connections, one POST
at a time on each, the answer read straight from the socket's bytes.

The conversation's own calls (send or edit a text, answer a button press) are most of the
bot's traffic, about 1.6 per update. Through aiohttp's client each cost some 70 µs of CPU of
its own (request and response objects, URL and header handling, timers, a task to write the
body); here about 10 µs: one write of a prebuilt request, the response parsed from the
buffer. It speaks what those calls need and no more: POST with a JSON body over TCP or TLS;
a response sized by Content-Length, sent chunked, or running until the server closes.
Files, getUpdates and getMe still go through aiogram and aiohttp (telegram_session).

A connection is reused only while it is known to be open: a server that closes an idle
connection tells us (EOF) before we would reuse it, and connections idle for longer than
IDLE_S are closed here first. A request that fails is never sent again (it may have been
carried out): the caller gets the error, as from aiohttp.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi

IDLE_S = 30.0  # an idle connection older than this is closed, not reused
MAX_HEAD = 64 * 1024  # bytes of status line and headers
MAX_BODY = 16 * 1024 * 1024  # a JSON answer of the Bot API is a few kilobytes
USER_AGENT = "cchc-bot"


class HttpError(OSError):
    """The exchange failed: no connection, a connection lost, an answer we cannot read."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    keep_alive: bool


class _Reader:
    """Reads one HTTP/1.1 response from the bytes fed to it, as they come."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.status = 0
        self.keep_alive = True
        self.length: int | None = None  # Content-Length; None with `chunked` or until close
        self.chunked = False
        self.body = bytearray()
        self.head_done = False

    def feed(self, data: bytes) -> Answer | None:
        """The complete answer once it has arrived, else None."""
        self.buffer += data
        while not self.head_done:
            if not self._read_head():
                return None
            if 100 <= self.status < 200:  # an interim answer (103 Early Hints): skip it
                self.head_done, self.length, self.chunked = False, None, False
        if self.chunked:
            return self._read_chunks()
        if self.length is not None and len(self.buffer) >= self.length:
            if len(self.buffer) > self.length:
                raise HttpError("more bytes than the answer's Content-Length")
            return Answer(self.status, bytes(self.buffer), self.keep_alive)
        if len(self.buffer) > MAX_BODY:
            raise HttpError("answer too large")
        return None

    def at_eof(self) -> Answer:
        """The server closed the connection: complete if the answer runs until close."""
        if self.head_done and self.length is None and not self.chunked:
            return Answer(self.status, bytes(self.buffer), False)
        raise HttpError("connection closed before the answer was complete")

    def _read_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise HttpError("answer headers too large")
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[:end + 4]
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
            raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        self.status = int(rest[:3])
        self.keep_alive = version == "HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self._header(name.strip().lower(), value.strip().lower())
        self.head_done = True
        if self.status in (204, 304):
            self.length = 0
        return True

    def _header(self, name: str, value: str) -> None:
        if name == "content-length":
            if not value.isdigit() or int(value) > MAX_BODY:
                raise HttpError(f"bad Content-Length: {value[:20]!r}")
            self.length = int(value)
        elif name == "transfer-encoding":
            self.chunked = value.endswith("chunked")
        elif name == "connection":
            self.keep_alive = "close" not in value if self.keep_alive else "keep-alive" in value

    def _read_chunks(self) -> Answer | None:
        while True:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return None
            size_text = bytes(self.buffer[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpError(f"bad chunk size: {size_text[:20]!r}") from None
            if size == 0:  # the last chunk, then optional trailers and a blank line
                if self.buffer.find(b"\r\n\r\n", end) < 0:
                    return None
                return Answer(self.status, bytes(self.body), self.keep_alive)
            if len(self.buffer) < end + 2 + size + 2:
                return None
            if self.buffer[end + 2 + size:end + 4 + size] != b"\r\n":
                raise HttpError("a chunk longer than its size")
            self.body += self.buffer[end + 2:end + 2 + size]
            del self.buffer[:end + 2 + size + 2]
            if len(self.body) > MAX_BODY:
                raise HttpError("answer too large")


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.reader: _Reader | None = None
        self.waiter: asyncio.Future[Answer] | None = None
        self.open = False
        self.idle_since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def data_received(self, data: bytes) -> None:
        if self.reader is None or self.waiter is None or self.waiter.done():
            self._fail(HttpError("bytes from the server with no request waiting"))
            return
        try:
            answer = self.reader.feed(data)
        except HttpError as error:
            self._fail(error)
            return
        if answer is not None:
            self.waiter.set_result(answer)

    def eof_received(self) -> bool:
        self.open = False
        if self.reader is not None and self.waiter is not None and not self.waiter.done():
            try:
                self.waiter.set_result(self.reader.at_eof())
            except HttpError as error:
                self.waiter.set_exception(error)
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(HttpError(f"connection lost: {exc}" if exc else "connection closed"))

    def _fail(self, error: HttpError) -> None:
        self.open = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, request: bytes) -> Answer:
        assert self.transport is not None
        self.reader, self.waiter = _Reader(), asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


class JsonPoster:
    """POSTs JSON to one origin (scheme, host, port) over up to `limit` connections."""

    def __init__(self, origin: str, *, limit: int = 100, tls: ssl.SSLContext | None = None
                 ) -> None:  # fmt: skip
        """`tls`: how to check an https server (default: certifi's roots, as aiogram)."""
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = None
        if parts.scheme == "https":
            self.tls = tls or ssl.create_default_context(cafile=certifi.where())
        default_port = self.port == (443 if self.tls else 80)
        name = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        self._host_header = (name if default_port else f"{name}:{self.port}").encode()
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)

    async def post(self, path: str, body: bytes, timeout: float) -> Answer:
        """POST `body` (JSON) to `path`; the answer, whatever its status."""
        request = (b"POST %b HTTP/1.1\r\nHost: %b\r\nUser-Agent: %b\r\n"
                   b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b"
                   % (path.encode(), self._host_header, USER_AGENT.encode(), len(body), body))
        async with self._slots, asyncio.timeout(timeout):
            connection = self._reusable() or await self._connect()
            try:
                answer = await connection.exchange(request)
            except BaseException:
                connection.close()
                raise
            if answer.keep_alive and connection.open:
                connection.idle_since = time.monotonic()
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    def _reusable(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the likeliest open
            if connection.open and now - connection.idle_since < IDLE_S:
                return connection
            connection.close()
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                _Connection, self.host, self.port, ssl=self.tls,
                server_hostname=self.host if self.tls else None,
            )
        except OSError as error:
            raise HttpError(f"cannot connect to {self.host}:{self.port}: {error}") from error
        return connection

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

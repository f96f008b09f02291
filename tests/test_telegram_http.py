"""The Bot API's JSON calls go out on our own HTTP/1.1 connections (bot/channels/
telegram_http.py): checked against real servers on 127.0.0.1 that answer in each way the
client must understand, and refuse it in each way it must survive."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trustme

from bot.channels.telegram_http import HttpError, JsonPoster

Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # False: close after it


class Server:
    """A TCP server that reads each request whole and answers with `reply`."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.handlers: list[asyncio.Task[None]] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.handlers.append(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.reply(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def serving(reply: Reply, tls: ssl.SSLContext | None = None
                  ) -> AsyncIterator[tuple[Server, str]]:  # fmt: skip
    server = Server(reply)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=tls)
    port = listener.sockets[0].getsockname()[1]
    try:
        yield server, f"{'https' if tls else 'http'}://localhost:{port}"
    finally:
        listener.close()
        for handler in server.handlers:  # connections still open end with the server
            handler.cancel()
        await asyncio.gather(*server.handlers, return_exceptions=True)
        await listener.wait_closed()


def answer(body: bytes, *, status: str = "200 OK", extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 %b\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%b\r\n%b"
            % (status.encode(), len(body), extra, body))


async def ok(request: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(answer(b'{"ok":true,"result":1}'))
    return True


BODY = b'{"chat_id":42,"text":"Xin ch\\u00e0o"}'


async def test_posts_json_and_reuses_the_connection() -> None:
    async with serving(ok) as (server, origin):
        poster = JsonPoster(origin)
        first = await poster.post("/bot1:x/sendMessage", BODY, 5)
        second = await poster.post("/bot1:x/sendMessage", BODY, 5)
        poster.close()
    assert (first.status, first.body) == (200, b'{"ok":true,"result":1}')
    assert second.body == first.body
    assert server.connections == 1  # kept alive between the two
    request = server.requests[0]
    assert request.startswith(b"POST /bot1:x/sendMessage HTTP/1.1\r\n")
    assert b"\r\nContent-Type: application/json\r\n" in request
    assert f"\r\nHost: localhost:{origin.rsplit(':', 1)[1]}\r\n".encode() in request
    assert request.endswith(b"\r\n\r\n" + BODY)


async def test_reads_answers_cut_into_pieces_chunked_and_until_close() -> None:
    async def pieces(request: bytes, writer: asyncio.StreamWriter) -> bool:
        whole = answer(b'{"ok":true,"result":"xin ch\xc3\xa0o"}', extra=b"X-Extra: 1\r\n")
        for cut in range(0, len(whole), 7):  # bytes arrive a few at a time
            writer.write(whole[cut:cut + 7])
            await writer.drain()
            await asyncio.sleep(0)
        return True

    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
                     b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5;ext=1\r\n{\"ok\"\r\n7\r\n:false}\r\n0\r\nX-Trailer: y\r\n\r\n")
        return True

    async def until_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>502")
        return False

    async with serving(pieces) as (_, origin):
        poster = JsonPoster(origin)
        got = await poster.post("/m", BODY, 5)
        poster.close()
    assert got.body.decode() == '{"ok":true,"result":"xin chào"}'
    async with serving(chunked) as (server, origin):
        poster = JsonPoster(origin)
        got = await poster.post("/m", BODY, 5)
        again = await poster.post("/m", BODY, 5)
        poster.close()
    assert (got.status, got.body) == (429, b'{"ok":false}') and again.status == 429
    assert server.connections == 1
    async with serving(until_close) as (server, origin):
        poster = JsonPoster(origin)
        got = await poster.post("/m", BODY, 5)
        again = await poster.post("/m", BODY, 5)  # that connection was not kept
        poster.close()
    assert (got.status, got.body, got.keep_alive) == (502, b"<html>502", False)
    assert again.status == 502 and server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def once(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(b"{}"))
        return False  # and close, after a keep-alive answer: as an idle timeout would

    async with serving(once) as (server, origin):
        poster = JsonPoster(origin)
        await poster.post("/m", BODY, 5)
        for _ in range(100):  # the close reaches us on a later turn of the loop
            if not any(c.open for c in poster._idle):
                break
            await asyncio.sleep(0)
        second = await poster.post("/m", BODY, 5)
        poster.close()
    assert second.status == 200 and server.connections == 2


async def _refused(reply: Reply, error: type[Exception], timeout: float = 5) -> None:
    """A post to a server answering with `reply` raises `error`; no connection is kept."""
    async with serving(reply) as (_, origin):
        poster = JsonPoster(origin)
        with pytest.raises(error):
            await poster.post("/m", BODY, timeout)
        assert poster._idle == []


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"ok\":",  # closed in the middle
    b"SSH-2.0-OpenSSH_9.2\r\n\r\n",  # not HTTP at all
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # a broken chunk
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n",  # one too long
    b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
])
async def test_a_broken_answer_is_an_error_and_the_connection_is_dropped(reply: bytes) -> None:
    async def broken(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply)
        return False

    await _refused(broken, HttpError)


async def test_no_server_and_a_silent_server() -> None:
    async with serving(ok) as (_, origin):
        pass  # closed: nobody listens there any more
    with pytest.raises(HttpError):
        await JsonPoster(origin).post("/m", BODY, 5)

    async def silent(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.Event().wait()  # never answers
        return False

    await _refused(silent, TimeoutError, timeout=0.05)


async def test_https_with_the_servers_certificate_checked() -> None:
    authority = trustme.CA()
    certificate = authority.issue_cert("localhost")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    authority.configure_trust(client_tls)
    async with serving(ok, tls=server_tls) as (server, origin):
        poster = JsonPoster(origin, tls=client_tls)
        got = await poster.post("/m", BODY, 5)
        await poster.post("/m", BODY, 5)
        poster.close()
        stranger = JsonPoster(origin)  # certifi's roots do not know this authority
        with pytest.raises(HttpError, match="CERTIFICATE_VERIFY_FAILED"):
            await stranger.post("/m", BODY, 5)
    assert got.status == 200 and server.connections == 1
    assert server.requests[0].startswith(b"POST /m HTTP/1.1\r\nHost: localhost:")


def test_the_host_header_names_the_origin_as_http_wants_it() -> None:
    assert JsonPoster("https://api.telegram.org")._host_header == b"api.telegram.org"
    assert JsonPoster("http://127.0.0.1:8081")._host_header == b"127.0.0.1:8081"
    assert JsonPoster("http://[::1]:8081")._host_header == b"[::1]:8081"
    with pytest.raises(ValueError):
        JsonPoster("ftp://example.org")

"""A small forward proxy on 127.0.0.1 for tests: HTTP CONNECT and SOCKS5 on one port.

What a proxy of a government network does for the bot, and no more: it checks the
credentials (Basic for HTTP, RFC 1929 user/password for SOCKS5), opens the connection to
the target and relays bytes both ways. It only connects to loopback targets (the fake Bot
API). Each tunnel's upstream socket address is recorded, so a test can tell that a request
the fake Bot API received came through the proxy: its peer port is one of those.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from urllib.parse import quote

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Tunnel:
    protocol: str  # "http" or "socks5"
    target: tuple[str, int]
    upstream: tuple[str, int]  # the proxy's own end of the connection to the target


@dataclass
class ForwardProxy:
    user: str | None = None
    password: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    tunnels: list[Tunnel] = field(default_factory=list)
    refused: int = 0  # connections refused: wrong credentials or a target not allowed
    _server: asyncio.Server | None = None
    _relays: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def url(self, scheme: str, *, password: str | None = None) -> str:
        """e.g. socks5://user:secret@127.0.0.1:41234 (`password` overrides the right one)."""
        auth = ""
        if self.user is not None:
            secret = self.password if password is None else password
            auth = f"{quote(self.user, safe='')}:{quote(secret or '', safe='')}@"
        return f"{scheme}://{auth}{self.host}:{self.port}"

    @property
    def upstream_ports(self) -> set[int]:
        return {tunnel.upstream[1] for tunnel in self.tunnels}

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._relays):
            task.cancel()
        await asyncio.gather(*self._relays, return_exceptions=True)
        await self._server.wait_closed()

    # ---- one client connection ---------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            first = await reader.readexactly(1)
            if first == b"\x05":
                upstream = await self._socks5(reader, writer)
            else:
                upstream = await self._http_connect(first, reader, writer)
            if upstream is not None:
                await self._relay(reader, writer, *upstream)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _http_connect(
        self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Upstream | None:
        head = (first + await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        method, target, _ = request.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        if method != "CONNECT":  # aiohttp-socks tunnels every request, http:// ones too
            await self._http_refuse(writer, "405 Method Not Allowed")
            return None
        if not self._basic_ok(headers.get("proxy-authorization", "")):
            await self._http_refuse(
                writer,
                "407 Proxy Authentication Required",
                'Proxy-Authenticate: Basic realm="test"\r\n',
            )
            return None
        host, _, port = target.rpartition(":")
        upstream = await self._open("http", host.strip("[]"), int(port))
        if upstream is None:
            await self._http_refuse(writer, "403 Forbidden")
            return None
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        return upstream

    async def _http_refuse(
        self, writer: asyncio.StreamWriter, status: str, extra: str = ""
    ) -> None:
        self.refused += 1
        writer.write(f"HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\n\r\n".encode())
        await writer.drain()

    def _basic_ok(self, header: str) -> bool:
        if self.user is None:
            return True
        scheme, _, token = header.partition(" ")
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        return scheme.lower() == "basic" and token == expected

    async def _socks5(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Upstream | None:
        methods = await reader.readexactly((await reader.readexactly(1))[0])
        wanted = 0x00 if self.user is None else 0x02  # no auth, or user/password (RFC 1929)
        if wanted not in methods:
            self.refused += 1
            writer.write(b"\x05\xff")
            return None
        writer.write(bytes([5, wanted]))
        if wanted == 0x02 and not await self._socks5_login(reader, writer):
            return None
        _, command, _, kind = await reader.readexactly(4)
        host = await _socks5_address(reader, kind)
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        upstream = await self._open("socks5", host, port) if command == 1 else None
        if upstream is None:
            writer.write(b"\x05\x02\x00\x01" + bytes(6))  # connection not allowed
            return None
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + struct.pack("!H", 0))
        await writer.drain()
        return upstream

    async def _socks5_login(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        await reader.readexactly(1)  # the sub-negotiation's version, 1
        user = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        password = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        ok = (user, password) == (self.user, self.password)
        writer.write(b"\x01\x00" if ok else b"\x01\x01")
        await writer.drain()
        if not ok:
            self.refused += 1
        return ok

    async def _open(self, protocol: str, host: str, port: int) -> Upstream | None:
        if host not in LOOPBACK:
            self.refused += 1
            return None
        reader, writer = await asyncio.open_connection(host, port, family=socket.AF_INET)
        sockname = writer.get_extra_info("sockname")
        self.tunnels.append(Tunnel(protocol, (host, port), (sockname[0], sockname[1])))
        return reader, writer

    async def _relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        self._writers.add(up_writer)
        try:
            relays = [
                asyncio.create_task(_pipe(reader, up_writer)),
                asyncio.create_task(_pipe(up_reader, writer)),
            ]
            for relay in relays:
                self._relays.add(relay)
                relay.add_done_callback(self._relays.discard)
            await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._writers.discard(up_writer)
            up_writer.close()


Upstream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _socks5_address(reader: asyncio.StreamReader, kind: int) -> str:
    if kind == 1:
        return str(ipaddress.IPv4Address(await reader.readexactly(4)))
    if kind == 4:
        return str(ipaddress.IPv6Address(await reader.readexactly(16)))
    return (await reader.readexactly((await reader.readexactly(1))[0])).decode()  # a name


async def _pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    with contextlib.suppress(OSError, RuntimeError):
        target.write_eof()

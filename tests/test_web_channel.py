"""The web chat channel, like the Telegram adapter: events in, replies out.

The page's protocol is driven over a real HTTP server (aiohttp's test server): websocket
events become neutral `Inbound`s, replies come back as bubbles, edits and toasts; uploads
become attachments; files the bot sends are served to their chat only; a forged or foreign
session is refused. The end: the real dispatcher in numbered mode (as on Zalo).
Nothing sleeps: every wait is on a websocket frame, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.web import WebChannel
from bot.channels.web_protocol import ProtocolError, event_inbound, sanitize_html
from bot.channels.web_server import WebServer
from bot.channels.web_session import COOKIE_NAME, SessionSigner, new_chat_id
from common.clock import FrozenClock
from common.messages import (
    Choice,
    Deliver,
    Inbound,
    InboundKind,
    OutFile,
    PermanentError,
    Reply,
    Sender,
)
from handlers.dispatcher import Dispatcher
from tests import factories
from tests.chat_harness import CATALOG, import_and_codes, make_deps
from tests.conftest import Db
from tests.turns import InTurns

MENU = [[Choice("Đạt", "ok:1"), Choice("Chưa đạt", "no:1")]]
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WAIT = 5.0  # seconds for a frame that should come at once


class EchoHandler(InTurns):
    """A small conversation: echoes text, shows a menu, edits on a press, sends files."""

    def __init__(self, files: Path) -> None:
        super().__init__()
        self.events: list[Inbound] = []
        self.received: dict[str, bytes] = {}
        self.report = files / "bao-cao.pdf"
        self.report.parent.mkdir(parents=True, exist_ok=True)
        self.report.write_bytes(PDF)
        self.files = files

    async def answer(self, event: Inbound) -> list[Reply]:
        self.events.append(event)
        if event.kind is InboundKind.CHOICE:
            return [
                Reply(f"Bạn chọn <b>{event.choice}</b>", choices=MENU, edit=True, toast="Đã ghi")
            ]
        if event.attachment is not None:
            target = self.files / "in" / event.attachment.file_name
            await event.attachment.download(target)
            self.received[event.attachment.file_name] = target.read_bytes()
            return [Reply(f"nhận {target.stat().st_size} bytes")]
        if event.kind is InboundKind.COMMAND:
            return [Reply(f"/{event.command} [{html.escape(event.text)}]")]
        if event.text == "menu":
            return [Reply("Chọn kết quả:", choices=MENU)]
        if event.text == "doc":
            return [
                Reply(
                    "Báo cáo <b>tháng 5</b>",
                    document=OutFile(self.report, "Báo cáo 5/2021.pdf", "application/pdf"),
                )
            ]
        if event.text == "boom":
            raise RuntimeError("handler bug")
        return [Reply(f"echo: {html.escape(event.text)}")]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2021, 9, 29, 2, 0, tzinfo=UTC))  # 09:00 in TP.HCM


@pytest.fixture
def echo(tmp_path: Path) -> EchoHandler:
    return EchoHandler(tmp_path / "files")


@pytest.fixture
def channel(clock: FrozenClock) -> WebChannel:
    return WebChannel(clock=clock, timezone="Asia/Ho_Chi_Minh")


@pytest.fixture
def server(channel: WebChannel, echo: EchoHandler, tmp_path: Path) -> WebServer:
    return WebServer(
        channel, echo, catalog=CATALOG, max_upload_bytes=1024, upload_dir=tmp_path / "uploads"
    )


@pytest.fixture
async def client(server: WebServer) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(server.app())) as test_client:
        yield test_client


async def open_page(client: TestClient[Any, Any]) -> str:
    """GET / like a browser: the page, and the session cookie it hands out."""
    response = await client.get("/")
    assert response.status == 200
    assert "<html" in await response.text()
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME]
    return cookie.value


async def frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    data: dict[str, Any] = await ws.receive_json(timeout=WAIT)
    return data


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next frame of `kind` (others, e.g. the echo of what was typed, are skipped)."""
    for _ in range(10):
        data = await frame(ws)
        if data["type"] == kind:
            return data
    raise AssertionError(f"no {kind} frame")


# -- pieces ------------------------------------------------------------------------------


def test_session_cookie_round_trip_and_forgeries() -> None:
    signer = SessionSigner()
    chat = new_chat_id()
    value = signer.sign(chat)
    assert signer.verify(value) == chat
    encoded, mac = value.split(".")
    other = SessionSigner().sign("demo-leader")
    forged = [
        SessionSigner().sign(chat),  # another key
        other.split(".")[0] + "." + mac,  # another chat with this chat's signature
        encoded + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),
        encoded + ".",
        "." + mac,
        value + ".x",
        "",
        "%%%.%%%",
        "a" * 5000,
    ]
    assert [signer.verify(v) for v in forged] == [None] * len(forged)
    assert signer.verify(None) is None
    with pytest.raises(ValueError):
        signer.sign("../etc/passwd")


def test_sanitizer_keeps_the_bot_markup_and_escapes_the_rest() -> None:
    assert sanitize_html("<b>Mục 1.3</b> &amp; <i>ghi chú</i>") == (
        "<b>Mục 1.3</b> &amp; <i>ghi chú</i>"
    )
    assert sanitize_html("<script>alert(1)</script>") == ("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert sanitize_html('<img src=x onerror="alert(1)">') == (
        "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    )
    assert sanitize_html('<a href="javascript:alert(1)">x</a>') == "<a>x</a>"
    assert sanitize_html('<a href="https://t.me/x?a=1&b=2">x</a>') == (
        '<a href="https://t.me/x?a=1&amp;b=2" target="_blank" rel="noopener">x</a>'
    )
    assert sanitize_html("<b>oops") == "<b>oops</b>"
    assert sanitize_html("a < b > c") == "a &lt; b &gt; c"


def test_page_events_become_inbound(clock: FrozenClock) -> None:
    sender = Sender("web", "w1", "w1", language="vi")
    now = clock.now()
    start = event_inbound(sender, {"type": "text", "text": "/start 7KQ2M9XD3HVAP"}, now)
    assert (start.kind, start.command, start.text) == (
        InboundKind.COMMAND,
        "start",
        "7KQ2M9XD3HVAP",
    )
    typed = event_inbound(sender, {"type": "text", "text": "96,5"}, now)
    assert (typed.kind, typed.text, typed.received_at) == (InboundKind.TEXT, "96,5", now)
    pressed = event_inbound(sender, {"type": "choice", "token": "v:3:y", "message": "m4"}, now)
    assert (pressed.kind, pressed.choice, pressed.message_id) == (InboundKind.CHOICE, "v:3:y", "m4")
    for bad in (
        [],
        {"type": "text", "text": " "},
        {"type": "choice", "token": "x" * 65},
        {"type": "choice", "token": "a", "message": 3},
        {"type": "sticker"},
    ):
        with pytest.raises(ProtocolError):
            event_inbound(sender, bad, now)


# -- sessions ------------------------------------------------------------------------------


async def test_page_hands_out_a_session_once(client: TestClient[Any, Any]) -> None:
    first = await open_page(client)
    again = await client.get("/")
    assert COOKIE_NAME not in again.cookies  # a genuine cookie is kept
    assert (
        client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE_NAME].value == first
    )
    assert "default-src 'self'" in again.headers["Content-Security-Policy"]


async def test_requests_without_a_genuine_session_are_refused(
    server: WebServer, client: TestClient[Any, Any]
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_cookie:
        await client.ws_connect("/ws")
    assert no_cookie.value.status == 401
    # A cookie naming someone else's chat, signed with another key: refused, not obeyed.
    forged = SessionSigner().sign("demo-leader")
    client.session.cookie_jar.update_cookies({COOKIE_NAME: forged})
    with pytest.raises(aiohttp.WSServerHandshakeError) as bad_cookie:
        await client.ws_connect("/ws")
    assert bad_cookie.value.status == 401
    form = aiohttp.FormData()
    form.add_field("file", PDF, filename="x.pdf", content_type="application/pdf")
    assert (await client.post("/upload", data=form)).status == 401
    # A new page visit replaces the forged cookie with a fresh chat of its own.
    assert await open_page(client) != forged
    async with client.ws_connect("/ws") as ws:
        hello = await frame(ws)
        assert hello["type"] == "hello" and hello["chat"] != "demo-leader"
        assert hello["history"] == []


async def test_other_sites_cannot_talk_as_the_visitor(client: TestClient[Any, Any]) -> None:
    await open_page(client)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin="https://evil.example")
    assert refused.value.status == 403
    async with client.ws_connect("/ws", origin=str(client.make_url("")).rstrip("/")) as ws:
        assert (await frame(ws))["type"] == "hello"


async def test_demo_endpoints_do_not_exist_outside_the_demo(client: TestClient[Any, Any]) -> None:
    await open_page(client)
    assert (await client.get("/demo/state")).status == 404
    assert (await client.post("/demo/time", json={"step": "day"})).status in (404, 405)
    assert (await client.post("/demo/switch", json={"person": "leader"})).status in (404, 405)


# -- the conversation ----------------------------------------------------------------------


async def test_text_in_bubbles_out_with_time_and_history(
    client: TestClient[Any, Any], echo: EchoHandler
) -> None:
    await open_page(client)
    async with client.ws_connect("/ws?lang=en") as ws:
        hello = await frame(ws)
        chat = hello["chat"]
        await ws.send_json({"type": "text", "text": "xin chào <b>"})
        mine = await until(ws, "message")
        assert mine["message"]["from"] == "me"
        assert mine["message"]["html"] == "xin chào &lt;b&gt;"  # exactly as typed
        reply = (await until(ws, "message"))["message"]
        assert reply["from"] == "bot" and reply["html"] == "echo: xin chào &lt;b&gt;"
        assert reply["time"] == "29/09/2021 09:00"
        await ws.send_json({"type": "text", "text": "/start 7KQ2M9XD3HVAP"})
        assert (await until(ws, "message"))["message"]["html"] == "/start 7KQ2M9XD3HVAP"
        assert (await until(ws, "message"))["message"]["html"] == "/start [7KQ2M9XD3HVAP]"
    event = echo.events[0]
    assert (event.sender.platform, event.sender.chat_id, event.sender.language) == (
        "web",
        chat,
        "en",
    )
    assert echo.events[1].kind is InboundKind.COMMAND
    async with client.ws_connect("/ws") as ws:  # the tab reloads: the conversation is there
        history = (await frame(ws))["history"]
        assert [m["from"] for m in history] == ["me", "bot", "me", "bot"]


async def test_choices_are_buttons_a_press_edits_its_bubble_and_toasts(
    client: TestClient[Any, Any], echo: EchoHandler
) -> None:
    await open_page(client)
    async with client.ws_connect("/ws") as ws:
        await frame(ws)
        await ws.send_json({"type": "text", "text": "menu"})
        await until(ws, "message")
        menu = (await until(ws, "message"))["message"]
        assert menu["choices"] == [
            [{"label": "Đạt", "token": "ok:1"}, {"label": "Chưa đạt", "token": "no:1"}]
        ]
        await ws.send_json({"type": "choice", "token": "ok:1", "message": menu["id"]})
        assert await frame(ws) == {"type": "toast", "text": "Đã ghi"}
        edited = await frame(ws)
        assert edited["type"] == "edit" and edited["message"]["id"] == menu["id"]
        assert edited["message"]["html"] == "Bạn chọn <b>ok:1</b>"
        # A press on a bubble that is not there any more: the reply comes as a new one.
        await ws.send_json({"type": "choice", "token": "no:1", "message": "m999"})
        await until(ws, "message")
        await ws.send_json({"type": "sticker"})  # malformed events are ignored...
        await ws.send_json({"type": "text", "text": "still here"})  # ...the chat goes on
        assert (await until(ws, "message"))["message"]["from"] == "me"
        assert (await until(ws, "message"))["message"]["html"] == "echo: still here"
    pressed = echo.events[1]
    assert (pressed.kind, pressed.choice, pressed.message_id) == (
        InboundKind.CHOICE,
        "ok:1",
        menu["id"],
    )


async def test_handler_failure_gets_an_apology(client: TestClient[Any, Any]) -> None:
    await open_page(client)
    async with client.ws_connect("/ws") as ws:
        await frame(ws)
        await ws.send_json({"type": "text", "text": "boom"})
        await until(ws, "message")
        apology = (await until(ws, "message"))["message"]["html"]
        assert apology == html.escape(CATALOG.t("vi", "common.error"), quote=False)


async def test_replies_are_shown_in_the_chats_turn(channel: WebChannel, tmp_path: Path) -> None:
    """A typed answer still being handled and an upload sent meanwhile: each reply is shown
    inside its event's turn (the dispatcher's, here one lock), so the upload is handled only
    once the answer's reply is out and the replies keep the events' order."""
    gate, turn = asyncio.Event(), asyncio.Lock()
    shown: dict[str, tuple[list[str], list[str]]] = {}  # event -> bot bubbles (start, end)

    def bubbles(chat_id: str) -> list[str]:
        return [m.html for m in channel.history(chat_id) if m.sender == "bot"]

    async def slow_text(event: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        name, chat_id = event.text or "upload", event.sender.chat_id
        async with turn:
            at_start = bubbles(chat_id)
            if event.text:
                await gate.wait()
            replies = [Reply(f"re {name}")]
            if deliver is not None:
                await deliver(replies)
            shown[name] = (at_start, bubbles(chat_id))
            return replies

    server = WebServer(channel, slow_text, catalog=CATALOG, upload_dir=tmp_path)
    async with TestClient(TestServer(server.app())) as client:
        await open_page(client)
        async with client.ws_connect("/ws") as ws:
            await frame(ws)
            await ws.send_json({"type": "text", "text": "slow"})
            await until(ws, "message")  # the typed text's own bubble: it is being handled
            form = aiohttp.FormData()
            form.add_field("file", PDF, filename="a.pdf", content_type="application/pdf")
            upload = asyncio.create_task(client.post("/upload", data=form))
            await until(ws, "message")  # the upload's own bubble: it waits for its turn
            gate.set()
            assert (await until(ws, "message"))["message"]["html"] == "re slow"
            assert (await until(ws, "message"))["message"]["html"] == "re upload"
            assert (await upload).status == 200
    assert shown == {"slow": ([], ["re slow"]), "upload": (["re slow"], ["re slow", "re upload"])}


async def test_upload_becomes_an_attachment(
    client: TestClient[Any, Any], echo: EchoHandler, tmp_path: Path
) -> None:
    await open_page(client)
    async with client.ws_connect("/ws") as ws:
        await frame(ws)
        form = aiohttp.FormData(quote_fields=False)  # names in raw UTF-8, as browsers send
        form.add_field("file", PDF, filename="Kế hoạch 2021.pdf", content_type="application/pdf")
        response = await client.post("/upload", data=form)
        assert response.status == 200, await response.text()
        assert (await until(ws, "message"))["message"]["html"] == "📎 Kế hoạch 2021.pdf"
        assert (await until(ws, "message"))["message"]["html"] == f"nhận {len(PDF)} bytes"
        photo = aiohttp.FormData()
        photo.add_field("file", PNG, filename="anh.png", content_type="image/png")
        assert (await client.post("/upload", data=photo)).status == 200
        big = aiohttp.FormData()
        big.add_field("file", b"x" * 2048, filename="lon.pdf", content_type="application/pdf")
        assert (await client.post("/upload", data=big)).status == 413
    document, picture = echo.events
    assert document.kind is InboundKind.FILE and picture.kind is InboundKind.PHOTO
    assert document.attachment is not None
    assert (document.attachment.mime_type, document.attachment.size) == (
        "application/pdf",
        len(PDF),
    )
    assert echo.received == {"Kế hoạch 2021.pdf": PDF, "anh.png": PNG}
    assert list((tmp_path / "uploads").iterdir()) == []  # temporary copies are gone


async def test_files_the_bot_sends_are_served_to_their_chat_only(
    server: WebServer, client: TestClient[Any, Any]
) -> None:
    await open_page(client)
    async with client.ws_connect("/ws") as ws:
        await frame(ws)
        await ws.send_json({"type": "text", "text": "doc"})
        await until(ws, "message")
        sent = (await until(ws, "message"))["message"]
    assert sent["file"]["kind"] == "document" and sent["file"]["name"] == "Báo cáo 5/2021.pdf"
    download = await client.get(sent["file"]["url"])
    assert download.status == 200 and await download.read() == PDF
    assert "filename*=UTF-8''B%C3%A1o" in download.headers["Content-Disposition"]
    # Another browser (another chat) with the same link gets nothing.
    async with TestClient(TestServer(server.app())) as other:
        await open_page(other)
        assert (await other.get(sent["file"]["url"])).status == 404


async def test_outbox_send_reaches_open_tabs_and_the_history(
    channel: WebChannel, client: TestClient[Any, Any], echo: EchoHandler
) -> None:
    await open_page(client)
    async with client.ws_connect("/ws") as ws, client.ws_connect("/ws") as second:
        chat = (await frame(ws))["chat"]
        await frame(second)
        message_id = await channel.send(chat, Reply("⏰ <b>Nhắc hạn</b>", choices=MENU))
        for tab in (ws, second):
            pushed = (await until(tab, "message"))["message"]
            assert pushed["id"] == message_id and pushed["html"] == "⏰ <b>Nhắc hạn</b>"
    assert await channel.send("w-nobody-open", Reply("later")) != ""  # kept for later
    assert channel.message_count("w-nobody-open") == 1
    with pytest.raises(PermanentError):
        await channel.send(chat, Reply("x", document=OutFile(Path("/nonexistent.pdf"), "x")))
    assert channel.capabilities.buttons and channel.platform == "web"


# -- with the real dispatcher ----------------------------------------------------------------


async def test_numbered_mode_with_the_real_dispatcher(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    channel = WebChannel(clock=clock, timezone="Asia/Ho_Chi_Minh", numbered=True)
    deps = make_deps(db, clock, tmp_path)
    deps.capabilities = {**deps.capabilities, "web": channel.capabilities}
    server = WebServer(
        channel, Dispatcher(deps).handle, catalog=CATALOG, upload_dir=tmp_path / "uploads"
    )
    async with TestClient(TestServer(server.app())) as client:
        await open_page(client)
        async with client.ws_connect("/ws") as ws:
            hello = await frame(ws)
            assert hello["numbered"] is True
            await ws.send_json({"type": "text", "text": f"/start {codes['U1'][0]}"})
            await until(ws, "message")
            greeting = (await until(ws, "message"))["message"]
            assert greeting["choices"] == []
            assert "Ủy ban nhân dân Phường 1" in greeting["html"]
            assert "1. ▶ Bắt đầu trả lời" in greeting["html"]
            await ws.send_json({"type": "text", "text": "1"})
            await until(ws, "message")
            item = (await until(ws, "message"))["message"]
            assert "Mục 1/7" in item["html"] and item["choices"] == []
            form = aiohttp.FormData()
            form.add_field("file", PDF, filename="ke-hoach.pdf", content_type="application/pdf")
            await ws.send_json({"type": "text", "text": "31/12/2020"})
            await until(ws, "message")
            assert "tài liệu kiểm chứng" in (await until(ws, "message"))["message"]["html"]
            assert (await client.post("/upload", data=form)).status == 200
            await until(ws, "message")
            received = (await until(ws, "message"))["message"]["html"]
            assert "Đã nhận «ke-hoach.pdf»" in received
            # What the bot sends on its own loses its buttons too, as it would on Zalo.
            await channel.send(hello["chat"], Reply("⏰ Nhắc hạn", choices=MENU))
            assert (await until(ws, "message"))["message"]["choices"] == []
    stored = list((tmp_path / "evidence").rglob("*ke-hoach.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == PDF


async def test_an_over_long_text_is_kept_in_its_bubble_and_answered(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    """Issue 19: over 4096 characters the text was dropped without a word (no bubble, no
    reply); now its bubble stays and the bot says it is over the limit, in the same question."""
    codes = await import_and_codes(db, clock, factories.campaign())
    channel = WebChannel(clock=clock, timezone="Asia/Ho_Chi_Minh")
    deps = make_deps(db, clock, tmp_path)
    deps.capabilities = {**deps.capabilities, "web": channel.capabilities}
    server = WebServer(
        channel, Dispatcher(deps).handle, catalog=CATALOG, upload_dir=tmp_path / "uploads"
    )
    long_text = "Giải trình " + "x" * 5000
    async with TestClient(TestServer(server.app())) as client:
        await open_page(client)
        async with client.ws_connect("/ws") as ws:
            await frame(ws)
            await ws.send_json({"type": "text", "text": f"/start {codes['U1'][0]}"})
            await until(ws, "message")
            await until(ws, "message")
            await ws.send_json({"type": "text", "text": long_text})
            echo = (await until(ws, "message"))["message"]
            assert echo["from"] == "me" and echo["html"] == html.escape(long_text, quote=False)
            reply = (await until(ws, "message"))["message"]["html"]
            assert "vượt quá giới hạn 4096 ký tự" in reply and f"dài {len(long_text)}" in reply


async def test_earlier_keyboards_are_marked_stale_once_new_buttons_come(
    channel: WebChannel,
) -> None:
    # Issue 19: the page greys out buttons of earlier messages (app.js disables them).
    card = [[Choice("Có", "v:1:y~1"), Choice("Không", "v:1:n~1")]]
    await channel.deliver_all("c1", [Reply("Mục 1", card)])
    await channel.deliver_all("c1", [Reply("Đã lưu")])  # no new buttons: still current
    first = channel.history("c1")[0]
    assert not first.stale and first.as_json()["stale"] is False
    await channel.deliver_all("c1", [Reply("Mục 2", [[Choice("Có", "v:2:y~2")]])])
    first, _, second = channel.history("c1")
    assert first.stale and first.as_json()["stale"] is True
    assert first.choices == card  # still shown, greyed out
    assert not second.stale
    # An edit of the current bubble keeps it current.
    await channel.deliver_all(
        "c1", [Reply("Mục 3", [[Choice("Có", "v:3:y~2")]], edit=True)], pressed=second.id
    )
    assert not channel.history("c1")[2].stale

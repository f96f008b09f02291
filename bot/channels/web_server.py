"""The web chat's HTTP side (aiohttp): the page, its websocket, uploads and downloads.

    GET  /               the chat page (bot/channels/web_static), in ?lang=vi|en
    GET  /static/<file>  its script and style sheet
    GET  /ws             the conversation: events in, bubbles out (web_protocol.py)
    POST /upload         a file or photo (multipart, field "file"), e.g. evidence
    GET  /files/<token>/<name>  a file the bot sent to this chat

The signed session cookie (web_session.py) says which chat a browser is; every route but
the page refuses a request without a genuine one, and requests from another site's page
(Origin header) are refused too, so no other web site can talk to the bot as the visitor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from html import escape
from pathlib import Path
from urllib.parse import quote, urlsplit

from aiohttp import BodyPartReader, WSMsgType, web

from bot.channels.conversation import converse
from bot.channels.web import WebChannel
from bot.channels.web_protocol import PLATFORM, ProtocolError, event_inbound
from bot.channels.web_session import COOKIE_MAX_AGE, COOKIE_NAME, SessionSigner, new_chat_id
from common.i18n import DEFAULT_LOCALE, Catalog, normalize_locale
from common.messages import (
    Attachment,
    ConversationHandler,
    Inbound,
    InboundKind,
    Reply,
    Sender,
)
from handlers.chat_menu import ORDER

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "web_static"
STATIC_FILES = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}
# The page's texts the script needs (the HTML itself is filled in on the server).
SCRIPT_TEXTS = (
    "connecting",
    "connected",
    "disconnected",
    "uploading",
    "upload_failed",
    "too_large",
    "download",
    "time_moved",
    "use_code",
    "photo_alt",
    "stale_buttons",
)
COMMAND_NAMES = ORDER  # handlers/chat_menu.py
_PLACEHOLDER = re.compile(r"\{\{([a-z_.]+)\}\}")
_CHUNK = 1 << 16
_PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif", "image/heic"})
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def page_locale(request: web.Request) -> str:
    """Vietnamese unless the page asks for English (?lang=en)."""
    return normalize_locale(request.query.get("lang"))


def render_page(template: str, catalog: Catalog, locale: str, max_upload_bytes: int) -> str:
    """Fill {{key}} with the catalog's web.<key>, and hand the script its texts as JSON."""

    def text(match: re.Match[str]) -> str:
        return escape(catalog.t(locale, f"web.{match.group(1)}"))

    # Raw templates: the script fills their {placeholders} itself.
    texts = {
        key: catalog.texts[locale].get(f"web.{key}") or catalog.texts[DEFAULT_LOCALE][f"web.{key}"]
        for key in SCRIPT_TEXTS
    }
    # The command bar's labels: the bar itself follows the person's roles (Reply.menu).
    commands = {
        name: catalog.t(locale, f"web.commands.{name}")
        for name in COMMAND_NAMES
        if catalog.has(f"web.commands.{name}")
    }
    config = {
        "lang": locale,
        "maxUpload": max_upload_bytes,
        "texts": texts,
        "commands": commands,
    }
    # "<" escaped so no text can close the <script> element the JSON sits in.
    blob = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return _PLACEHOLDER.sub(text, template).replace("__CONFIG__", blob)


class WebServer:
    """The routes of one web chat channel; `app()` builds the aiohttp application."""

    def __init__(
        self,
        channel: WebChannel,
        handler: ConversationHandler,
        *,
        catalog: Catalog,
        signer: SessionSigner | None = None,
        new_chat: Callable[[], str] = new_chat_id,
        max_upload_bytes: int = 20 * 1024 * 1024,
        upload_dir: Path | None = None,
    ) -> None:
        self.channel = channel
        self.handler = handler
        self.catalog = catalog
        self.signer = signer or SessionSigner()
        self.new_chat = new_chat
        self.max_upload_bytes = max_upload_bytes
        self.upload_dir = upload_dir or Path(tempfile.gettempdir())
        template = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        self._pages = {
            loc: render_page(template, catalog, loc, max_upload_bytes) for loc in catalog.texts
        }

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/ws", self.websocket)
        app.router.add_post("/upload", self.upload)
        app.router.add_get("/files/{token}/{name}", self.download)
        app.on_shutdown.append(self._close_sockets)
        return app

    # -- sessions --------------------------------------------------------------------------

    def chat_of(self, request: web.Request) -> str | None:
        return self.signer.verify(request.cookies.get(COOKIE_NAME))

    def set_session(self, response: web.StreamResponse, chat_id: str) -> None:
        response.set_cookie(
            COOKIE_NAME,
            self.signer.sign(chat_id),
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Strict",
        )

    def require_chat(self, request: web.Request) -> str:
        """The chat of a genuine session from this site's own page, or an HTTP error."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="cross-site request")
        chat_id = self.chat_of(request)
        if chat_id is None:
            raise web.HTTPUnauthorized(text="no session: open the page first")
        return chat_id

    def sender(self, chat_id: str, locale: str, display_name: str = "") -> Sender:
        # One web chat is one person: the chat id is the user id too.
        return Sender(PLATFORM, chat_id, chat_id, display_name=display_name, language=locale)

    async def inject(
        self, chat_id: str, text: str, *, locale: str = "vi", display_name: str = ""
    ) -> None:
        """Handle `text` as if typed on the page of `chat_id` (the demo's people join so)."""
        sender = self.sender(chat_id, locale, display_name)
        await self._event(sender, json.dumps({"type": "text", "text": text}))

    # -- routes ------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        response = web.Response(
            text=self._pages[page_locale(request)],
            content_type="text/html",
            headers=_SECURITY_HEADERS,
        )
        response.headers["Cache-Control"] = "no-store"
        if self.chat_of(request) is None:  # a first visit, or a cookie of an old process
            self.set_session(response, self.new_chat())
        return response

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.FileResponse(
            STATIC_DIR / name,
            headers={
                "Content-Type": STATIC_FILES[name],
                "Cache-Control": "no-cache",
                **_SECURITY_HEADERS,
            },
        )

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        chat_id = self.require_chat(request)
        sender = self.sender(chat_id, page_locale(request))
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        self.channel.connect(chat_id, socket)
        try:
            await socket.send_json(
                {
                    "type": "hello",
                    "chat": chat_id,
                    "numbered": self.channel.numbered,
                    "history": [m.as_json() for m in self.channel.history(chat_id)],
                    "meta": self.channel.meta(chat_id),
                }
            )
            async for frame in socket:
                if frame.type == WSMsgType.TEXT:
                    await self._event(sender, frame.data)
        finally:
            self.channel.disconnect(chat_id, socket)
        return socket

    async def _event(self, sender: Sender, data: str) -> None:
        try:
            inbound = event_inbound(sender, json.loads(data), self.channel.clock.now())
        except (ProtocolError, ValueError) as error:
            log.info("web chat %s sent a malformed event: %s", sender.chat_id, error)
            return
        if inbound.kind in (InboundKind.TEXT, InboundKind.COMMAND):
            await self.channel.echo(sender.chat_id, _typed(inbound))
        await self._handle(inbound)

    async def _handle(self, inbound: Inbound) -> None:
        """The replies are shown in the chat's turn (bot/channels/conversation.py), so two
        quick events (a typed answer and an upload) keep their order."""

        async def deliver(replies: list[Reply]) -> None:
            await self.channel.deliver_all(inbound.sender.chat_id, replies, inbound.message_id)

        await converse(self.handler, inbound, deliver, self._apology)

    def _apology(self, inbound: Inbound) -> str:
        return self.catalog.t(inbound.sender.language or "vi", "common.error")

    async def upload(self, request: web.Request) -> web.Response:
        chat_id = self.require_chat(request)
        sender = self.sender(chat_id, page_locale(request))
        reader = await request.multipart()
        part = await reader.next()
        if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
            raise web.HTTPBadRequest(text="expected one multipart field 'file'")
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=self.upload_dir, prefix="web-upload-", delete=False
        ) as temp:
            received = Path(temp.name)
            size = 0
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size > self.max_upload_bytes:
                    break
                temp.write(chunk)
        try:
            if size > self.max_upload_bytes:
                return web.json_response({"error": "too_large"}, status=413)
            mime = part.headers.get("Content-Type", "application/octet-stream")
            kind = InboundKind.PHOTO if mime in _PHOTO_TYPES else InboundKind.FILE
            attachment = Attachment(part.filename, mime, size, _copier(received))
            await self.channel.echo(chat_id, f"📎 {part.filename}")
            await self._handle(
                Inbound(kind, sender, self.channel.clock.now(), attachment=attachment)
            )
        finally:
            await asyncio.to_thread(received.unlink, missing_ok=True)
        return web.json_response({"ok": True})

    async def download(self, request: web.Request) -> web.FileResponse:
        chat_id = self.require_chat(request)
        found = self.channel.file_for(request.match_info["token"], chat_id)
        if found is None or not found.path.is_file():
            raise web.HTTPNotFound()
        shown = "inline" if found.mime_type.startswith("image/") else "attachment"
        return web.FileResponse(
            found.path,
            headers={
                "Content-Type": found.mime_type,
                "Content-Disposition": f"{shown}; filename*=UTF-8''{quote(found.file_name)}",
                "Cache-Control": "private, max-age=3600",
                **_SECURITY_HEADERS,
            },
        )

    async def _close_sockets(self, app: web.Application) -> None:
        # Open websockets would otherwise hold the shutdown for its whole timeout.
        for socket in self.channel.open_sockets():
            await socket.close(code=1001, message=b"server stopping")


def _typed(inbound: Inbound) -> str:
    if inbound.kind == InboundKind.COMMAND:
        return f"/{inbound.command} {inbound.text}".rstrip()
    return inbound.text


def _copier(source: Path) -> Callable[[Path], Awaitable[None]]:
    async def download(target: Path) -> None:
        # The dispatcher picks the target after checking size and type (handlers/messages.py).
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, source, target)

    return download

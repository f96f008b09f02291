"""The web chat channel: a chat page served by the bot itself (bot/channels/web_server.py).

`WebChannel` is the outbound half, the counterpart of `TelegramChannel`: it keeps each web
chat's history (in memory: a browser that reconnects sees the conversation again, a
restart starts afresh) and pushes every new bubble to the chat's open websockets. The
delivery worker calls `send` for what the bot says on its own (alerts, reminders,
summaries), exactly as for Telegram; replies to what a person typed go through `deliver`,
which can also edit the bubble whose button was pressed.

Files the bot sends (the /summary chart, evidence a leader asks for) are served from
`/files/<token>/<name>`: the token is random and registered for one chat only.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.channels.keyboards import KeyboardTracker
from bot.channels.web_protocol import MAX_TEXT, PLATFORM, WebFile, WebMessage, sanitize_html
from common.clock import Clock
from common.localtime import fmt_datetime
from common.messages import Capabilities, OutFile, PermanentError, Reply

log = logging.getLogger(__name__)

HISTORY_LIMIT = 300  # bubbles kept per chat
FILES_LIMIT = 500  # file tokens kept per process; the oldest go first


@dataclass(frozen=True)
class _Served:
    chat_id: str
    file: OutFile


class WebChannel:
    platform = PLATFORM

    def __init__(
        self,
        *,
        clock: Clock,
        timezone: str,
        numbered: bool = False,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        # numbered=True shows choices as "1. ... 2. ..." to answer by number, as on Zalo
        # (the dispatcher does it for any channel whose capabilities say buttons=False).
        self.capabilities = Capabilities(
            buttons=not numbered, edit=True, documents=True, max_text=MAX_TEXT
        )
        self.clock = clock
        self.timezone = timezone
        self.history_limit = history_limit
        self._history: dict[str, list[WebMessage]] = {}
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._files: dict[str, _Served] = {}
        self._ids = itertools.count(1)
        self.keyboards = KeyboardTracker()
        self._meta: dict[str, dict[str, Any]] = {}

    @property
    def numbered(self) -> bool:
        return not self.capabilities.buttons

    # -- what the page reads ---------------------------------------------------------------

    def history(self, chat_id: str) -> list[WebMessage]:
        return list(self._history.get(chat_id, ()))

    def message_count(self, chat_id: str) -> int:
        return len(self._history.get(chat_id, ()))

    def file_for(self, token: str, chat_id: str) -> OutFile | None:
        """The file behind a download token, only for the chat it was sent to."""
        served = self._files.get(token)
        return served.file if served is not None and served.chat_id == chat_id else None

    def connect(self, chat_id: str, socket: web.WebSocketResponse) -> None:
        self._sockets.setdefault(chat_id, set()).add(socket)

    def disconnect(self, chat_id: str, socket: web.WebSocketResponse) -> None:
        sockets = self._sockets.get(chat_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[chat_id]

    def open_sockets(self) -> list[web.WebSocketResponse]:
        return [s for sockets in self._sockets.values() for s in sockets]

    # -- sending -----------------------------------------------------------------------------

    async def send(self, chat_id: str, reply: Reply) -> str:
        """The delivery worker's entry point: one new bubble; its id ("" if none).

        In numbered mode a message the bot sends on its own loses its buttons, as it would
        on Zalo: only replies in the conversation get numbers to answer with.
        """
        if self.numbered and reply.choices:
            reply = replace(reply, choices=[])
        return await self.deliver(chat_id, reply)

    async def deliver(self, chat_id: str, reply: Reply, *, edit_of: str | None = None) -> str:
        """Show `reply`: in place of bubble `edit_of` when it asks to edit and can, else as
        a new bubble. A toast is pushed as a short notice and never kept."""
        if reply.toast:
            await self._push(chat_id, {"type": "toast", "text": reply.toast})
        upload = reply.photo or reply.document
        if not reply.text and upload is None:
            if reply.edit and edit_of is not None:
                # Only the buttons change (e.g. an option ticked on a multi item).
                edited = await self._edit(chat_id, edit_of, None, reply.choices)
                return edited or ""
            return ""
        html = sanitize_html(reply.text)
        if reply.edit and edit_of is not None and upload is None:
            edited = await self._edit(chat_id, edit_of, html, reply.choices)
            if edited:
                return edited
        web_file = self._serve(chat_id, upload, photo=reply.photo is not None) if upload else None
        return await self._append(chat_id, "bot", html, reply.choices, web_file, reply.due_at)

    async def deliver_all(
        self, chat_id: str, replies: Iterable[Reply], pressed: str | None = None
    ) -> None:
        """Replies to one event, in order; only the first edit may replace `pressed`.
        Once they bring new buttons, the earlier keyboards are marked stale."""
        replies = list(replies)
        keyboards = []
        for reply in replies:
            shown = await self.deliver(chat_id, reply, edit_of=pressed if reply.edit else None)
            if shown and reply.choices:
                keyboards.append(shown)
            if reply.edit:
                pressed = None
        for old in self.keyboards.replace(chat_id, keyboards):
            await self._mark_stale(chat_id, old)
        await self._update_meta(chat_id, replies)

    def meta(self, chat_id: str) -> dict[str, Any] | None:
        """The person's language and commands as last known (None before their first event)."""
        return self._meta.get(chat_id)

    async def _update_meta(self, chat_id: str, replies: Iterable[Reply]) -> None:
        """The page follows the person: a new language reloads it in that language, new roles
        change its command bar (handlers/chat_menu.py)."""
        last = list(replies)[-1:]
        if not last or last[0].menu is None:
            return
        meta = {"lang": last[0].locale, "commands": list(last[0].menu)}
        if self._meta.get(chat_id) != meta:
            self._meta[chat_id] = meta
            await self._push(chat_id, {"type": "meta", **meta})

    async def echo(self, chat_id: str, text: str) -> str:
        """What the person typed or sent, shown as their own bubble (kept in the history):
        exactly as typed, every character escaped."""
        return await self._append(chat_id, "me", escape(text, quote=False), [], None)

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> str:
        return fmt_datetime(self.clock.now(), self.timezone)

    def _serve(self, chat_id: str, upload: OutFile, *, photo: bool) -> WebFile:
        if not upload.path.is_file():  # as on Telegram: a vanished file is not retried
            raise PermanentError(f"file to send is missing: {upload.path}")
        token = secrets.token_urlsafe(18)
        self._files[token] = _Served(chat_id, upload)
        while len(self._files) > FILES_LIMIT:
            self._files.pop(next(iter(self._files)))
        url = f"/files/{token}/{quote(upload.file_name, safe='')}"
        return WebFile(url, upload.file_name, "photo" if photo else "document", upload.mime_type)

    async def _append(
        self,
        chat_id: str,
        sender: str,
        html: str,
        choices: Any,
        web_file: WebFile | None,
        due_at: datetime | None = None,
    ) -> str:
        """`due_at`: a timed message shows when it was due, not when the clock jumped."""
        time = fmt_datetime(due_at, self.timezone) if due_at is not None else self._now()
        message = WebMessage(f"m{next(self._ids)}", sender, html, time, list(choices), web_file)
        history = self._history.setdefault(chat_id, [])
        history.append(message)
        del history[: -self.history_limit]
        await self._push(chat_id, {"type": "message", "message": message.as_json()})
        return message.id

    async def _edit(
        self, chat_id: str, message_id: str, html: str | None, choices: Any
    ) -> str | None:
        message = next((m for m in self._history.get(chat_id, ()) if m.id == message_id), None)
        if message is None or message.sender != "bot" or message.file is not None:
            return None  # gone from the history, or a file's caption: say it anew
        if html is not None:
            message.html, message.time = html, self._now()
        message.choices, message.stale = list(choices), False
        await self._push(chat_id, {"type": "edit", "message": message.as_json()})
        return message.id

    async def _mark_stale(self, chat_id: str, message_id: str) -> None:
        message = next((m for m in self._history.get(chat_id, ()) if m.id == message_id), None)
        if message is not None and message.choices and not message.stale:
            message.stale = True
            await self._push(chat_id, {"type": "edit", "message": message.as_json()})

    async def _push(self, chat_id: str, event: dict[str, Any]) -> None:
        for socket in list(self._sockets.get(chat_id, ())):
            if socket.closed:
                self.disconnect(chat_id, socket)
                continue
            try:
                await socket.send_json(event)
            except (ConnectionError, RuntimeError):  # the tab closed meanwhile
                log.debug("web socket of %s went away", chat_id)
                self.disconnect(chat_id, socket)

"""The web chat's protocol: what the page sends (JSON over the websocket, uploads by POST)
becomes a neutral `Inbound`; a `Reply` becomes a `WebMessage` the page draws as a bubble.

Page -> server (websocket):  {"type": "text", "text": "/start 7KQ2M9XD3HVAP"}
                             {"type": "choice", "token": "v:12:y", "message": "m7"}
Server -> page (websocket):  {"type": "hello", "chat": ..., "numbered": bool, "history": [...]}
                             {"type": "message", "message": {...}}   a new bubble
                             {"type": "edit", "message": {...}}      a bubble replaced in place
                             {"type": "toast", "text": "..."}        a short notice
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from common.messages import Choice, Inbound, InboundKind, Sender

PLATFORM = "web"
MAX_TEXT = 4096  # characters a bot message carries (as on Telegram)
MAX_TOKEN_BYTES = 64

# "/start CODE": the same command syntax as Telegram, so a person who learnt one knows both
# (not imported from the Telegram adapter: that would load aiogram for a web-only bot).
_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)

# The markup bot texts use (handlers/messages.py); anything else is shown as text.
_ALLOWED_TAGS = frozenset({"b", "strong", "i", "em", "u", "s", "code", "pre", "a"})
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tg"})


class _Sanitizer(HTMLParser):
    """Re-emits the allowed tags (links only to safe schemes) and escapes everything else,
    so even a handler bug that forgets to escape typed text cannot inject a script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.out.append(escape(self.get_starttag_text() or ""))
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if urlsplit(href).scheme.lower() not in _SAFE_SCHEMES:
                self.out.append("<a>")
            else:
                self.out.append(f'<a href="{escape(href)}" target="_blank" rel="noopener">')
        else:
            self.out.append(f"<{tag}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open:  # close what was left open inside, like a browser would
                inner = self.open.pop()
                self.out.append(f"</{inner}>")
                if inner == tag:
                    break
        else:
            self.out.append(escape(f"</{tag}>"))

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def sanitize_html(text: str) -> str:
    sanitizer = _Sanitizer()
    sanitizer.feed(text)
    return sanitizer.result()


@dataclass
class WebFile:
    url: str
    name: str
    kind: str  # "photo" | "document"
    mime: str


@dataclass
class WebMessage:
    """One bubble of the conversation, kept in the chat's history."""

    id: str
    sender: str  # "bot" | "me"
    html: str
    time: str  # dd/mm/yyyy HH:MM, the campaign's time zone
    choices: list[list[Choice]] = field(default_factory=list)
    file: WebFile | None = None
    stale: bool = False  # its buttons are from earlier in the conversation (greyed out)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.sender,
            "html": self.html,
            "time": self.time,
            "choices": [
                [{"label": c.label, "token": c.token} for c in row] for row in self.choices if row
            ],
            "file": None if self.file is None else self.file.__dict__,
            "stale": self.stale,
        }


class ProtocolError(ValueError):
    """The page sent something this protocol does not know (a bug or a hand-made request)."""


def text_inbound(sender: Sender, text: str, now: datetime) -> Inbound:
    """Typed text: a COMMAND when it starts like "/start", else TEXT. A text of any length
    goes on: the conversation answers an over-long one (handlers/too_long.py); the socket's
    frame limit bounds what arrives at all."""
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return Inbound(InboundKind.TEXT, sender, now, text=text)
    name, args = match.groups()
    return Inbound(
        InboundKind.COMMAND, sender, now, text=(args or "").strip(), command=name.lower()
    )


def event_inbound(sender: Sender, event: Any, now: datetime) -> Inbound:
    """A websocket event from the page -> Inbound; ProtocolError when malformed."""
    if not isinstance(event, dict):
        raise ProtocolError("an event is a JSON object")
    kind = event.get("type")
    if kind == "text":
        text = event.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("text must be a non-empty string")
        return text_inbound(sender, text, now)
    if kind == "choice":
        token, message = event.get("token"), event.get("message")
        if not isinstance(token, str) or not 1 <= len(token.encode()) <= MAX_TOKEN_BYTES:
            raise ProtocolError("token must be 1-64 bytes")
        if message is not None and not isinstance(message, str):
            raise ProtocolError("message must be a string")
        return Inbound(InboundKind.CHOICE, sender, now, choice=token, message_id=message)
    raise ProtocolError(f"unknown event type {kind!r}")

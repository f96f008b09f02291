"""Zalo Bot Platform events (JSON dicts) -> neutral `Inbound` events.

An event is `{"event_name": "message.text.received", "message": {...}}` with a message's
`from {id, display_name, is_bot}`, `chat {id, chat_type}`, `message_id` (a string), `date`
(ms). Zalo has no update id: the message id is what a redelivery repeats, so it is the
event's `update_key`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from common.clock import Clock
from common.messages import Attachment, Inbound, InboundKind, Sender

PLATFORM = "zalo"

TEXT = "message.text.received"
IMAGE = "message.image.received"

# "/start CODE", as on Telegram (Zalo has no command menu; people type it).
_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:\s+(.*))?$", re.DOTALL)

# Saves the photo at a URL to a path (ZaloApi.download with the evidence size limit).
PhotoFetch = Callable[[str, Path], Awaitable[None]]


def _sender(message: Mapping[str, Any]) -> Sender:
    person = message.get("from") or {}
    chat = message.get("chat") or {}
    user_id = str(person.get("id") or chat.get("id") or "")
    return Sender(
        platform=PLATFORM,
        user_id=user_id,
        chat_id=str(chat.get("id") or user_id),
        display_name=str(person.get("display_name") or person.get("name") or ""),
        private=str(chat.get("chat_type") or "PRIVATE").upper() == "PRIVATE",
    )


def event_to_inbound(
    event: Mapping[str, Any], *, clock: Clock, fetch: PhotoFetch
) -> Inbound | None:
    """TEXT, COMMAND, PHOTO, or OTHER (stickers, unsupported content); None for an event
    that carries no message from a person (or one from a bot)."""
    message = event.get("message")
    if not isinstance(message, Mapping) or (message.get("from") or {}).get("is_bot"):
        return None
    sender = _sender(message)
    if not sender.chat_id:
        return None
    message_id = str(message.get("message_id") or "") or None
    base = Inbound(
        InboundKind.OTHER,
        sender,
        clock.now(),
        text=str(message.get("caption") or ""),
        message_id=message_id,
        update_key=message_id,
    )
    name = event.get("event_name")
    if name == TEXT and isinstance(message.get("text"), str):
        return _text(base, message["text"])
    if name == IMAGE and isinstance(message.get("photo"), str) and message["photo"]:
        url = message["photo"]

        async def download(path: Path) -> None:
            await fetch(url, path)

        attachment = Attachment(
            file_name=f"photo_{message_id or 'zalo'}.jpg",
            mime_type="image/jpeg",  # Zalo serves the pictures people send as JPEG
            size=None,  # not told: the download stops past the limit, the handler refuses
            download=download,
        )
        return _with(base, InboundKind.PHOTO, attachment=attachment)
    return base


def _with(base: Inbound, kind: InboundKind, **changes: Any) -> Inbound:
    return Inbound(
        kind,
        base.sender,
        base.received_at,
        text=changes.get("text", base.text),
        command=changes.get("command"),
        message_id=base.message_id,
        attachment=changes.get("attachment"),
        update_key=base.update_key,
    )


def _text(base: Inbound, text: str) -> Inbound:
    match = _COMMAND_RE.match(text.strip())
    if match is None:
        return _with(base, InboundKind.TEXT, text=text)
    name, args = match.groups()
    return _with(base, InboundKind.COMMAND, text=(args or "").strip(), command=name.lower())

"""Neutral messages between chat channels and the conversation code.

Channels (Telegram, Zalo, web) turn their platform updates into `Inbound` events and render
`Reply` objects back. Nothing here knows about aiogram, httpx or HTML widgets of a platform;
texts use the small HTML subset every channel can render or strip: <b>, <i>, <code>, <a>.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class InboundKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"  # a pressed button (Telegram callback query, web button)
    FILE = "file"  # a document
    PHOTO = "photo"
    OTHER = "other"  # sticker, voice, location...: something we do not handle


@dataclass(frozen=True)
class Sender:
    """Who wrote, from which chat. Ids are strings so every platform fits."""

    platform: str  # "telegram" | "zalo" | "web"
    user_id: str
    chat_id: str
    display_name: str = ""
    username: str | None = None
    language: str | None = None  # the platform's hint, e.g. "en", "vi"
    # A one-to-one chat with the bot (Telegram chat.type "private"; the web chat always;
    # Zalo's chat_type PRIVATE). In any other chat (a group, a channel) nothing personal
    # runs: handlers.group_chat answers instead (see handlers.dispatcher).
    private: bool = True


# Downloads the attachment to the given path; the handler decides where (after checking
# size and type), so rejected files never touch the disk.
Downloader = Callable[[Path], Awaitable[None]]


@dataclass(frozen=True)
class Attachment:
    file_name: str
    mime_type: str
    size: int | None  # bytes, when the platform tells before downloading
    download: Downloader


@dataclass(frozen=True)
class Inbound:
    kind: InboundKind
    sender: Sender
    received_at: datetime  # timezone-aware UTC
    text: str = ""  # the message text (for COMMAND: the arguments after the command)
    command: str | None = None  # lower-case, without the slash: "start", "checklist"
    choice: str | None = None  # the token of a pressed Choice (<= 64 bytes)
    message_id: str | None = None  # for CHOICE: the message carrying the button
    attachment: Attachment | None = None
    # The platform's id of the update that brought the event, when the platform may deliver
    # that update again (Telegram: the bot's id and the update_id): the dispatcher handles
    # a key only once. None (web chat, Zalo): nothing to recognise.
    update_key: str | None = None


@dataclass(frozen=True)
class Choice:
    label: str
    token: str  # opaque, at most 64 bytes in UTF-8 (Telegram's callback_data limit)


@dataclass(frozen=True)
class OutFile:
    path: Path
    file_name: str
    mime_type: str = "application/octet-stream"


@dataclass
class Reply:
    """One message the bot sends (or an edit of the message whose button was pressed).

    A reply with an empty `text` and a `toast` only answers the pressed button.
    """

    text: str
    choices: list[list[Choice]] = field(default_factory=list)  # rows of buttons
    edit: bool = False  # replace the message the pressed button was on, when possible
    document: OutFile | None = None
    photo: OutFile | None = None
    toast: str | None = None  # short notice for a pressed button (callback answer)
    # When a timed message (reminder, summary, notice) was due; sent later after a demo
    # clock jump or downtime, a channel that shows times (the web chat) shows this one.
    due_at: datetime | None = None
    # On an event's last reply: the person's language and commands now (handlers/chat_menu),
    # for a channel that shows a command bar or a page in that language (the web chat).
    locale: str | None = None
    menu: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = True  # False: choices are shown as a numbered list (Zalo)
    edit: bool = True
    documents: bool = True
    max_text: int = 4096


# What a channel gives the conversation code to send an event's replies with: called once,
# after the event's transaction has committed, while the chat's turn is still held, so the
# replies to two quick messages can never overtake each other.
Deliver = Callable[[list[Reply]], Awaitable[None]]


class ConversationHandler(Protocol):
    """The conversation as a channel sees it (handlers.dispatcher.Dispatcher.handle): one
    event in, its replies out; with `deliver`, they are also handed to it in the chat's
    turn (a channel that delivers them itself after the call gives up that ordering)."""

    async def __call__(self, inbound: Inbound, deliver: Deliver | None = None) -> list[Reply]: ...


class DeliveryError(Exception):
    """Base of the errors a channel raises when sending fails."""


class RateLimited(DeliveryError):
    def __init__(self, retry_after: float, message: str = "rate limited") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unreachable(DeliveryError):
    """The person blocked the bot, or the chat no longer exists: do not retry."""


class TransientError(DeliveryError):
    """Network error or 5xx: retry later with backoff."""


class PermanentError(DeliveryError):
    """The platform refused the message itself (bad request): retrying will not help."""

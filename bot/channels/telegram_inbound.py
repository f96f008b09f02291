"""Telegram updates (aiogram objects) -> neutral `Inbound` events."""

from __future__ import annotations

import re
from pathlib import Path

from aiogram import Bot
from aiogram.types import CallbackQuery, Chat, Message, User

from common.clock import Clock
from common.messages import Attachment, Downloader, Inbound, InboundKind, Sender

PLATFORM = "telegram"

# "/start@MyBot payload": Telegram commands are at most 32 latin letters, digits, underscores.
_COMMAND_RE = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL)


def _sender(user: User | None, chat: Chat) -> Sender:
    private = chat.type == "private"  # else "group", "supergroup" or "channel"
    if user is None:  # channel posts and anonymous admins: the chat speaks
        return Sender(PLATFORM, str(chat.id), str(chat.id), chat.title or "", private=private)
    return Sender(
        platform=PLATFORM,
        user_id=str(user.id),
        chat_id=str(chat.id),
        display_name=user.full_name,
        username=user.username,
        language=user.language_code,
        private=private,
    )


def _downloader(bot: Bot, file_id: str) -> Downloader:
    async def download(path: Path) -> None:
        # getFile gives a short-lived file_path; ask just before downloading.
        telegram_file = await bot.get_file(file_id)
        if telegram_file.file_path is None:
            raise FileNotFoundError(f"Telegram gave no file_path for {file_id}")
        path.parent.mkdir(parents=True, exist_ok=True)
        await bot.download_file(telegram_file.file_path, destination=path)

    return download


def _attachment(bot: Bot, message: Message) -> tuple[InboundKind, Attachment] | None:
    if message.document is not None:
        document = message.document
        attachment = Attachment(
            file_name=document.file_name or f"document_{document.file_unique_id}",
            mime_type=document.mime_type or "application/octet-stream",
            size=document.file_size,
            download=_downloader(bot, document.file_id),
        )
        return InboundKind.FILE, attachment
    if message.photo:
        # Sizes are not guaranteed sorted; take the largest picture.
        photo = max(message.photo, key=lambda size: size.width * size.height)
        attachment = Attachment(
            file_name=f"photo_{photo.file_unique_id}.jpg",
            mime_type="image/jpeg",  # Telegram re-encodes every photo as JPEG
            size=photo.file_size,
            download=_downloader(bot, photo.file_id),
        )
        return InboundKind.PHOTO, attachment
    return None


def message_to_inbound(
    bot: Bot, message: Message, *, clock: Clock, bot_username: str | None = None
) -> Inbound:
    """A message: TEXT, COMMAND, FILE, PHOTO, or OTHER for anything we do not handle.

    `received_at` is the injected clock's now, not Telegram's message date: the whole bot
    then lives on one time line, which tests and the demo's time control can move.
    """
    sender = _sender(message.from_user, message.chat)
    received_at = clock.now()
    base = Inbound(InboundKind.OTHER, sender, received_at, text=message.caption or "")
    if message.text is not None:
        return _text_inbound(base, message.text, bot_username)
    found = _attachment(bot, message)
    if found is not None:
        kind, attachment = found
        return Inbound(kind, sender, received_at, text=base.text, attachment=attachment)
    return base


def _text_inbound(base: Inbound, text: str, bot_username: str | None) -> Inbound:
    match = _COMMAND_RE.match(text)
    if match is None:
        return Inbound(InboundKind.TEXT, base.sender, base.received_at, text=text)
    name, mention, args = match.groups()
    if mention and bot_username and mention.lower() != bot_username.lower():
        # "/help@OtherBot" in a group is meant for another bot.
        return Inbound(InboundKind.OTHER, base.sender, base.received_at, text=text)
    return Inbound(
        InboundKind.COMMAND,
        base.sender,
        base.received_at,
        text=(args or "").strip(),
        command=name.lower(),
    )


def callback_to_inbound(query: CallbackQuery, *, clock: Clock) -> Inbound:
    """A pressed inline button: CHOICE with the callback data and the message it was on."""
    message = query.message
    if message is not None:
        sender = _sender(query.from_user, message.chat)
        message_id: str | None = str(message.message_id)
    else:  # a button under an inline-mode message: no chat, answer privately
        user = query.from_user
        sender = _sender(user, Chat(id=user.id, type="private"))
        message_id = None
    return Inbound(
        InboundKind.CHOICE,
        sender,
        clock.now(),
        choice=query.data or "",
        message_id=message_id,
    )

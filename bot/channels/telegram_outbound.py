"""Neutral `Reply` -> Telegram messages, and Telegram errors -> delivery errors."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    RestartingTelegram,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.channels.telegram_text import CAPTION_LIMIT, TEXT_LIMIT, split_html, visible_length
from common.messages import (
    Capabilities,
    Choice,
    DeliveryError,
    OutFile,
    PermanentError,
    RateLimited,
    Reply,
    TransientError,
    Unreachable,
)
from schedules.pacing import RateLimiter

log = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
Markup = InlineKeyboardMarkup | None
_MAX_TRIES = 5  # 429s one reply may meet before it gives up
_COUNTED = (SendMessage, SendDocument, SendPhoto)  # new messages: the rate limits count these

CALLBACK_DATA_LIMIT = 64  # bytes
# Bad requests that mean "this person cannot be reached", not "this message is wrong".
_UNREACHABLE_HINTS = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")


Rows = tuple[tuple[tuple[str, str], ...], ...]  # (label, token) per button, per row


def keyboard(choices: list[list[Choice]]) -> InlineKeyboardMarkup | None:
    """Rows of choices as an inline keyboard; refuses tokens Telegram would reject."""
    if not choices:
        return None
    for choice in (c for row in choices for c in row):
        if not 1 <= len(choice.token.encode()) <= CALLBACK_DATA_LIMIT:
            raise ValueError(f"choice token must be 1-64 bytes of UTF-8: {choice.token!r}")
    return _markup(tuple(tuple((c.label, c.token) for c in row) for row in choices if row))


# The same keyboards come back again and again (an item's answer buttons, "Tiếp tục"):
# build each one once (aiogram's objects are immutable, so calls can share them).
@functools.lru_cache(maxsize=2048)
def _markup(rows: Rows) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=token) for label, token in row]
            for row in rows
        ]
    )


def to_delivery_error(error: Exception) -> DeliveryError:
    """Map what aiogram raised to what the outbox worker knows how to handle."""
    if isinstance(error, FileNotFoundError):
        return PermanentError(f"file to send is missing: {error}")
    if isinstance(error, TelegramRetryAfter):
        return RateLimited(float(error.retry_after), str(error))
    if isinstance(error, TelegramForbiddenError | TelegramMigrateToChat):
        return Unreachable(str(error))  # blocked, kicked, deactivated, or chat upgraded
    if isinstance(error, TelegramBadRequest):
        if any(hint in error.message.lower() for hint in _UNREACHABLE_HINTS):
            return Unreachable(str(error))
        return PermanentError(str(error))
    if isinstance(error, TelegramNetworkError | TelegramServerError | RestartingTelegram):
        return TransientError(str(error))
    if isinstance(error, ClientDecodeError):
        return TransientError(str(error))  # e.g. an nginx error page instead of JSON
    if isinstance(error, TelegramAPIError | ValueError):
        return PermanentError(str(error))  # 401, 404, 413, our own token check...
    return TransientError(f"{type(error).__name__}: {error}")


def is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


class Outbound:
    """Sends replies to one bot. Interactive replies wait out short flood limits
    (`flood_wait` seconds at most); the outbox sets 0 and reschedules on RateLimited.

    With a `limiter` (the bot's send budget, shared with the outbox worker), every new
    message waits for its slot first and reports a 429 to it, so replies and the outbox
    never add up past the platform's limit. Edits and callback answers are not counted
    (Telegram's limits count messages sent)."""

    def __init__(
        self,
        bot: Bot,
        *,
        flood_wait: float = 0.0,
        sleep: Sleep = asyncio.sleep,
        limiter: RateLimiter | None = None,
        pace_clock: Callable[[], float] = time.monotonic,
    ):
        self.bot = bot
        self.flood_wait = flood_wait
        self.sleep = sleep
        self.limiter = limiter
        self.pace_clock = pace_clock  # the limiter's seconds (as the outbox worker's)

    async def call(self, method: TelegramMethod[T]) -> T:
        chat = str(method.chat_id) if isinstance(method, _COUNTED) else None
        waited = 0.0
        for _ in range(_MAX_TRIES):
            if chat is not None and self.limiter is not None:
                waited += await self._turn(chat, self.flood_wait - waited)
            try:
                result = await self.bot(method)
            except TelegramRetryAfter as error:
                if chat is not None and self.limiter is not None:
                    self.limiter.limited(chat, float(error.retry_after), self._now())
                    continue  # the next turn waits the pause out, within flood_wait
                if waited + error.retry_after > self.flood_wait:
                    raise
                waited += error.retry_after
                await self.sleep(error.retry_after)
                continue
            if chat is not None and self.limiter is not None:
                self.limiter.delivered(chat, self._now())
            return result
        raise RateLimited(0.0, f"{type(method).__name__}: still refused after {_MAX_TRIES} tries")

    def _now(self) -> float:
        return self.pace_clock()

    async def _turn(self, chat: str, may_wait: float) -> float:
        """Wait for this reply's slot in the bot's budget; the seconds waited. Raises
        RateLimited when the wait would exceed `may_wait` (a long flood wait)."""
        assert self.limiter is not None
        now = self._now()
        at = self.limiter.earliest(chat, now, reply=True)
        if at - now > max(0.0, may_wait):
            raise RateLimited(at - now, f"chat {chat} must wait {at - now:.1f} s")
        if at > now:
            await self.sleep(at - now)
        self.limiter.take(chat, at, reply=True)
        return at - now

    async def answer_callback(self, query_id: str, toast: str) -> None:
        await self.call(AnswerCallbackQuery(callback_query_id=query_id, text=toast or None))

    async def deliver(
        self, chat_id: int | str, reply: Reply, *, edit_message_id: int | None = None
    ) -> int | None:
        """Send (or edit into `edit_message_id`) one reply; the id of its last message.

        The keyboard goes on the last message. None when there was nothing to send (a reply
        with only a toast).
        """
        markup = keyboard(reply.choices)
        upload = reply.document or reply.photo
        if upload is not None:
            return await self._send_file(chat_id, reply, upload, markup)
        if not reply.text:
            if edit_message_id is not None and reply.edit:
                return await self._edit_markup(chat_id, edit_message_id, markup)
            if markup is not None:  # Telegram cannot show buttons without a text
                log.warning("reply to %s has choices but no text: not sent", chat_id)
            return None
        parts = split_html(reply.text, TEXT_LIMIT)
        last: int | None = None
        for index, part in enumerate(parts):
            part_markup = markup if index == len(parts) - 1 else None
            if index == 0 and edit_message_id is not None and reply.edit:
                last = await self._edit_or_send(chat_id, edit_message_id, part, part_markup)
            else:
                last = await self._send_text(chat_id, part, part_markup)
        return last

    async def _send_text(self, chat_id: int | str, text: str, markup: Markup) -> int:
        sent = await self.call(SendMessage(chat_id=chat_id, text=text, reply_markup=markup))
        return sent.message_id

    async def _edit_or_send(
        self, chat_id: int | str, message_id: int, text: str, markup: Markup
    ) -> int:
        try:
            await self.call(
                EditMessageText(
                    chat_id=chat_id, message_id=message_id, text=text, reply_markup=markup
                )
            )
            return message_id
        except TelegramBadRequest as error:
            if is_not_modified(error):  # pressing the same button twice
                return message_id
            # Deleted, too old, or a document caption: a new message says the same thing.
            log.info("edit of %s/%s failed (%s), sending instead", chat_id, message_id, error)
            return await self._send_text(chat_id, text, markup)

    async def remove_keyboard(self, chat_id: int | str, message_id: int) -> None:
        """Take an out-of-date keyboard off its message; a failure only leaves it there (a
        press on it is still answered as stale)."""
        try:
            await self._edit_markup(chat_id, message_id, None)
        except (AiogramError, DeliveryError) as error:
            log.info("could not remove the keyboard of %s/%s: %s", chat_id, message_id, error)

    async def _edit_markup(self, chat_id: int | str, message_id: int, markup: Markup) -> int | None:
        try:
            await self.call(
                EditMessageReplyMarkup(chat_id=chat_id, message_id=message_id, reply_markup=markup)
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                log.info("keyboard edit of %s/%s failed: %s", chat_id, message_id, error)
                return None
        return message_id

    async def _send_file(
        self, chat_id: int | str, reply: Reply, upload: OutFile, markup: Markup
    ) -> int:
        caption: str | None = reply.text or None
        if caption is not None and visible_length(caption) > CAPTION_LIMIT:
            # Too long for a caption: the text goes first as messages, the file after it.
            for part in split_html(caption, TEXT_LIMIT):
                await self._send_text(chat_id, part, None)
            caption = None
        if not upload.path.is_file():  # fail here, not halfway through a multipart upload
            raise FileNotFoundError(upload.path)
        file = FSInputFile(upload.path, filename=upload.file_name)
        method: SendDocument | SendPhoto
        if reply.photo is not None:
            method = SendPhoto(chat_id=chat_id, photo=file, caption=caption, reply_markup=markup)
        else:
            method = SendDocument(
                chat_id=chat_id, document=file, caption=caption, reply_markup=markup
            )
        message: Message = await self.call(method)
        return message.message_id


def chat_ref(chat_id: str) -> int | str:
    """Telegram chat ids are integers; "@channel" names stay strings."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


class TelegramChannel:
    """Outbound delivery for the outbox worker: one `send`, errors mapped for retries."""

    platform = "telegram"
    capabilities = Capabilities(buttons=True, edit=True, documents=True, max_text=TEXT_LIMIT)

    def __init__(self, bot: Bot) -> None:
        # No flood waiting here: the worker reschedules on RateLimited instead of blocking.
        self._outbound = Outbound(bot, flood_wait=0.0)

    async def send(self, chat_id: str, reply: Reply) -> str:
        """Deliver `reply`; returns the id of its last message ("" if nothing was sent).

        A long text is several messages; if a later part fails, the earlier ones were
        delivered and a retry repeats them (rare: only texts over 4096 characters).
        """
        try:
            message_id = await self._outbound.deliver(chat_ref(chat_id), reply)
        except (AiogramError, ValueError, OSError) as error:
            # OSError: a document path that vanished before upload.
            raise to_delivery_error(error) from error
        return "" if message_id is None else str(message_id)

"""One Telegram update through the conversation handler and back, failures included.

The replies are sent by the `deliver` handed to the conversation handler with the event, in
the chat's turn (see bot/channels/conversation.py): no lock of our own here. A pressed
button's query is answered exactly once, whatever happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiogram import Bot
from aiogram.exceptions import AiogramError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.channels.conversation import converse
from bot.channels.telegram_inbound import callback_to_inbound, message_to_inbound
from bot.channels.telegram_outbound import Outbound, Sleep, chat_ref, to_delivery_error
from common.clock import Clock, SystemClock
from common.messages import (
    ConversationHandler,
    Inbound,
    InboundKind,
    RateLimited,
    Reply,
    Unreachable,
)

log = logging.getLogger(__name__)

# The text sent when the conversation code fails; the composition root plugs the catalog.
Apology = Callable[[Inbound], str]
DEFAULT_APOLOGY = "Xin lỗi, đã có lỗi xảy ra. Vui lòng thử lại."
TOAST_LIMIT = 200  # characters Telegram shows in a callback answer


def default_apology(event: Inbound) -> str:
    return DEFAULT_APOLOGY


async def bot_username(bot: Bot) -> str:
    """The bot's @username without the @ (getMe, cached by aiogram)."""
    return (await bot.me()).username or ""


class UpdateProcessor:
    """Runs the conversation handler for each update; its replies are sent in the chat's
    turn (see the module's docstring).

    aiogram calls `on_message` / `on_callback`; each spawns a task and returns at once, so
    chats are served concurrently and `drain` can wait for every update in flight.
    """

    def __init__(
        self,
        bot: Bot,
        handler: ConversationHandler,
        *,
        apology: Apology = default_apology,
        clock: Clock | None = None,
        flood_wait: float = 10.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.bot = bot
        self.handler = handler
        self.apology = apology
        self.clock = clock or SystemClock()
        self.outbound = Outbound(bot, flood_wait=flood_wait, sleep=sleep)
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_update_id: int | None = None  # the newest update taken in (polling)

    async def track(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """aiogram outer middleware on updates: remember how far we have taken updates in."""
        if isinstance(update, Update) and update.update_id > (self.last_update_id or -1):
            self.last_update_id = update.update_id
        return await handler(update, data)

    async def on_message(self, message: Message) -> None:
        self._spawn(self._process_message(message))

    async def on_callback(self, callback_query: CallbackQuery) -> None:
        self._spawn(self._process_callback(callback_query))

    @property
    def busy(self) -> bool:
        """Updates are being handled or answered right now."""
        return bool(self._tasks)

    async def drain(self, grace_s: float = 10.0) -> None:
        """Wait for the updates in flight; cancel those still running after `grace_s`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_message(self, message: Message) -> None:
        try:
            username = await bot_username(self.bot)
            event = message_to_inbound(self.bot, message, clock=self.clock, bot_username=username)

            async def deliver(replies: list[Reply]) -> None:
                await self._deliver(event, replies)

            await converse(self.handler, event, deliver, self._apology)
        except Exception:  # a task has nobody to report to: log, never crash the loop
            log.exception("failed to process message %s", message.message_id)

    async def _process_callback(self, query: CallbackQuery) -> None:
        answered = False

        async def answer(toast: str | None) -> None:
            nonlocal answered
            if not answered:
                answered = True
                await self._answer(query.id, toast)

        try:
            event = callback_to_inbound(query, clock=self.clock)

            async def deliver(replies: list[Reply]) -> None:
                # The answer first: it stops the button's spinner before the edit arrives.
                await answer(next((r.toast for r in replies if r.toast), None))
                await self._deliver(event, replies)

            await converse(self.handler, event, deliver, self._apology)
        except Exception:
            log.exception("failed to process callback query %s", query.id)
        finally:
            await answer(None)  # exactly one answer per query, whatever happened

    def _apology(self, event: Inbound) -> str:
        try:
            return self.apology(event)
        except Exception:  # a broken catalog must not silence the apology itself
            log.exception("apology text failed")
            return DEFAULT_APOLOGY

    async def _answer(self, query_id: str, toast: str | None) -> None:
        try:
            await self.outbound.answer_callback(query_id, (toast or "")[:TOAST_LIMIT])
        except AiogramError as error:  # too old (the bot was down), or a network failure
            log.warning("could not answer callback query %s: %s", query_id, error)

    async def _deliver(self, event: Inbound, replies: list[Reply]) -> None:
        chat = chat_ref(event.sender.chat_id)
        edit_id = None
        if event.kind is InboundKind.CHOICE and event.message_id:
            edit_id = int(event.message_id)
        apologised = False
        for reply in replies:
            try:
                await self.outbound.deliver(chat, reply, edit_message_id=edit_id)
            except (AiogramError, ValueError, OSError) as error:
                failure = to_delivery_error(error)
                log.error("reply to %s failed: %s", chat, failure)
                if isinstance(failure, Unreachable | RateLimited):
                    return  # nobody to tell, or told to be quiet
                if not apologised:  # a bad reply (e.g. broken HTML): say so, plainly
                    apologised = True
                    await self._send_plain(chat, self._apology(event))

    async def _send_plain(self, chat: int | str, text: str) -> None:
        try:
            await self.bot.send_message(chat, text, parse_mode=None)
        except AiogramError as error:
            log.error("apology to %s failed too: %s", chat, error)

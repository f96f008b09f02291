"""One Telegram update through the conversation handler and back, failures included."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from aiogram import Bot
from aiogram.exceptions import AiogramError
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.channels.telegram_inbound import callback_to_inbound, message_to_inbound
from bot.channels.telegram_outbound import Outbound, Sleep, chat_ref, to_delivery_error
from common.clock import Clock, SystemClock
from common.messages import Inbound, InboundKind, RateLimited, Reply, Unreachable

log = logging.getLogger(__name__)

ConversationHandler = Callable[[Inbound], Awaitable[list[Reply]]]
# The text sent when the conversation code fails; the composition root plugs the catalog.
Apology = Callable[[Inbound], str]
DEFAULT_APOLOGY = "Xin lỗi, đã có lỗi xảy ra. Vui lòng thử lại."
TOAST_LIMIT = 200  # characters Telegram shows in a callback answer


def default_apology(event: Inbound) -> str:
    return DEFAULT_APOLOGY


async def bot_username(bot: Bot) -> str:
    """The bot's @username without the @ (getMe, cached by aiogram)."""
    return (await bot.me()).username or ""


class ChatQueue:
    """One update per chat at a time, in arrival order, so replies keep the order of the
    messages they answer (two quick messages must not get their answers swapped)."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}  # chat -> (lock, holders)

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        lock, holders = self._locks.get(chat_id, (asyncio.Lock(), 0))
        self._locks[chat_id] = (lock, holders + 1)
        try:
            async with lock:  # asyncio.Lock is FIFO: waiters go in arrival order
                yield
        finally:
            lock, holders = self._locks[chat_id]
            if holders == 1:
                del self._locks[chat_id]  # idle chats cost nothing
            else:
                self._locks[chat_id] = (lock, holders - 1)


class UpdateProcessor:
    """Runs the conversation handler for each update and delivers its replies.

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
        self._chats = ChatQueue()
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_update_id: int | None = None  # the newest update taken in (polling)

    async def track(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                    update: TelegramObject, data: dict[str, Any]) -> Any:  # fmt: skip
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

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for the updates in flight; cancel those still running after `timeout`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process_message(self, message: Message) -> None:
        async with self._chats.turn(message.chat.id):
            try:
                username = await bot_username(self.bot)
                event = message_to_inbound(
                    self.bot, message, clock=self.clock, bot_username=username
                )
                await self._deliver(event, await self._handle(event))
            except Exception:  # a task has nobody to report to: log, never crash the loop
                log.exception("failed to process message %s", message.message_id)

    async def _process_callback(self, query: CallbackQuery) -> None:
        chat_id = query.message.chat.id if query.message else query.from_user.id
        async with self._chats.turn(chat_id):
            toast: str | None = None
            try:
                event = callback_to_inbound(query, clock=self.clock)
                replies = await self._handle(event)
                toast = next((r.toast for r in replies if r.toast), None)
            except Exception:
                log.exception("failed to convert callback query %s", query.id)
                return
            finally:
                # Exactly one answer per query, whatever happened: it stops the spinner.
                await self._answer(query.id, toast)
            try:
                await self._deliver(event, replies)
            except Exception:
                log.exception("failed to deliver replies to callback query %s", query.id)

    async def _handle(self, event: Inbound) -> list[Reply]:
        try:
            return await self.handler(event)
        except Exception:
            log.exception(
                "conversation handler failed on %s from %s", event.kind, event.sender.chat_id
            )
            return [Reply(text=self._apology(event))]

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

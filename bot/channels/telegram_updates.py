"""One Telegram update through the conversation handler and back, failures included.

The replies are sent by the `deliver` handed to the conversation handler with the event, in
the chat's turn (see bot/channels/conversation.py): no lock of our own here. A pressed
button's query is answered exactly once, whatever happens. Each update's event carries the
update's key, so the dispatcher handles an update Telegram delivers again only once, and
the processor tells the channel when Telegram may forget an update (`take`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from aiogram import Bot
from aiogram.exceptions import AiogramError
from aiogram.types import CallbackQuery, Message, Update

from bot.channels.conversation import converse
from bot.channels.in_flight import InFlight, settle, settling
from bot.channels.keyboards import KeyboardTracker
from bot.channels.telegram_inbound import callback_to_inbound, message_to_inbound
from bot.channels.telegram_outbound import Outbound, Sleep, chat_ref, to_delivery_error
from common.clock import Clock, SystemClock
from common.messages import (
    ConversationHandler,
    DeliveryError,
    Inbound,
    InboundKind,
    RateLimited,
    Reply,
    Unreachable,
)
from schedules.pacing import RateLimiter

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

    `take` starts each update in a task of its own and returns at once, so chats are served
    concurrently and `drain` can wait for every update in flight.
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
        limiter: RateLimiter | None = None,
    ) -> None:
        self.bot = bot
        self.handler = handler
        self.apology = apology
        self.clock = clock or SystemClock()
        self.outbound = Outbound(bot, flood_wait=flood_wait, sleep=sleep, limiter=limiter)
        self.keyboards = KeyboardTracker()
        self._tasks = InFlight()

    def take(self, update: Update) -> asyncio.Future[None]:
        """Start handling `update`; the future returned is done once Telegram may forget it.

        That is once the update's event has left its transaction, committed or rolled back
        and apologised for: the dispatcher delivers only after that, so the first call of
        `deliver` marks it (or the end of the task, for an update that never got that far).
        It is cancelled when the task is cancelled before (a stop): the update was not
        handled, and Telegram must hand it out again."""
        handled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        key = f"{self.bot.id}:{update.update_id}"  # update ids are counted per bot
        if update.message is not None:
            work = self._process_message(update.message, key, handled)
        elif update.callback_query is not None:
            work = self._process_callback(update.callback_query, key, handled)
        else:  # a kind we do not ask for (allowed_updates): nothing to do
            handled.set_result(None)
            return handled
        task = self._tasks.spawn(work)
        task.add_done_callback(lambda _: settle(handled, cancelled=task.cancelled()))
        return handled

    @property
    def busy(self) -> bool:
        """Updates are being handled or answered right now."""
        return bool(self._tasks)

    async def drain(self, grace_s: float = 10.0) -> None:
        """Wait for the updates in flight; cancel those still running after `grace_s`."""
        await self._tasks.drain(grace_s)

    async def _process_message(
        self, message: Message, key: str, handled: asyncio.Future[None]
    ) -> None:
        try:
            username = await bot_username(self.bot)
            event = message_to_inbound(self.bot, message, clock=self.clock, bot_username=username)
            event = replace(event, update_key=key)

            async def deliver(replies: list[Reply]) -> None:
                await self._deliver(event, replies)

            await converse(self.handler, event, settling(handled, deliver), self._apology)
        except Exception:  # a task has nobody to report to: log, never crash the loop
            log.exception("failed to process message %s", message.message_id)

    async def _process_callback(
        self, query: CallbackQuery, key: str, handled: asyncio.Future[None]
    ) -> None:
        answered = False

        async def answer(toast: str | None) -> None:
            nonlocal answered
            if not answered:
                answered = True
                await self._answer(query.id, toast)

        try:
            event = replace(callback_to_inbound(query, clock=self.clock), update_key=key)

            async def deliver(replies: list[Reply]) -> None:
                # The answer first: it stops the button's spinner before the edit arrives.
                await answer(next((r.toast for r in replies if r.toast), None))
                await self._deliver(event, replies)

            await converse(self.handler, event, settling(handled, deliver), self._apology)
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
        keyboards: list[str] = []
        for reply in replies:
            try:
                sent = await self.outbound.deliver(chat, reply, edit_message_id=edit_id)
                if sent is not None and reply.choices:
                    keyboards.append(str(sent))
            except (AiogramError, ValueError, OSError, DeliveryError) as error:
                failure = error if isinstance(error, DeliveryError) else to_delivery_error(error)
                log.error("reply to %s failed: %s", chat, failure)
                if isinstance(failure, Unreachable | RateLimited):
                    return  # nobody to tell, or told to be quiet
                if not apologised:  # a bad reply (e.g. broken HTML): say so, plainly
                    apologised = True
                    await self._send_plain(chat, self._apology(event))
        for old in self.keyboards.replace(event.sender.chat_id, keyboards):
            await self.outbound.remove_keyboard(chat, int(old))

    async def _send_plain(self, chat: int | str, text: str) -> None:
        try:
            await self.bot.send_message(chat, text, parse_mode=None)
        except AiogramError as error:
            log.error("apology to %s failed too: %s", chat, error)

"""The Telegram channel (aiogram 3): building the Bot, polling or webhook, stopping.

Every update becomes a neutral `Inbound` (telegram_inbound), goes through the conversation
handler and its replies are rendered back (telegram_outbound); telegram_updates ties the
two together. Chats are served concurrently, each update in a task the processor owns, so
stopping waits for the replies in flight before the HTTP session closes. Telegram is told
an update is done only once its event left its transaction: polling's offset
(telegram_polling) and the webhook's 200 (telegram_webhook) wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BotCommand, File, Message, Update, User
from aiohttp import web
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from bot.channels.telegram_outbound import TelegramChannel
from bot.channels.telegram_polling import Confirmations, confirm, poll
from bot.channels.telegram_updates import (
    DEFAULT_APOLOGY,
    Apology,
    UpdateProcessor,
    bot_username,
    default_apology,
)
from bot.channels.telegram_webhook import WebhookIntake
from common.clock import Clock
from common.messages import ConversationHandler
from schedules.pacing import RateLimiter

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_APOLOGY",
    "Apology",
    "ConversationHandler",
    "TelegramChannel",
    "UpdateProcessor",
    "WebhookIntake",
    "bot_username",
    "build_bot",
    "run_polling",
    "run_webhook",
    "set_commands",
]

ALLOWED_UPDATES = ["message", "callback_query"]
# Connections kept open to the Bot API at most (aiohttp keeps them alive between calls).
# Replies to many chats go out at once; the outbox sends 30 a second at most.
CONNECTIONS = 100


def build_bot(
    token: str, api_url: str | None = None, *, proxy: str | None = None, timeout: float = 30.0
) -> Bot:
    """A Bot speaking HTML by default, on aiogram's own aiohttp session.

    `api_url` points it at another Bot API server (a local telegram-bot-api, or the fake in
    tests), e.g. "http://127.0.0.1:8081"; `proxy` (http://, socks5://, with user:password if
    needed) carries every call, file downloads included. `timeout`: seconds per call (a long
    poll gets its polling timeout on top)."""
    api = TelegramAPIServer.from_base(api_url) if api_url else PRODUCTION
    session = AiohttpSession(api=api, proxy=proxy, limit=CONNECTIONS, timeout=timeout)
    if proxy:
        session.middleware(ProxyFailures())
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


async def set_commands(
    bot: Bot, commands: Sequence[tuple[str, str]], *, language_code: str | None = None
) -> None:
    """The command menu: (command without slash, description) pairs, per language."""
    menu = [BotCommand(command=name, description=text) for name, text in commands]
    await bot.set_my_commands(menu, language_code=language_code)


class ProxyFailures(BaseRequestMiddleware):
    """A proxy that refuses (wrong password), fails or times out: a network error like any.

    aiohttp-socks raises its own exceptions for these, which aiogram does not turn into
    TelegramNetworkError as it does aiohttp's; here they are, so the callers (replies, the
    outbox's retries, polling) treat a proxy failure as the network failure it is."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except (ProxyError, ProxyConnectionError, ProxyTimeoutError) as error:
            message = f"proxy: {type(error).__name__}: {error}"
            raise TelegramNetworkError(method=method, message=message) from error


@contextlib.contextmanager
def stop_on_signals(stop_event: asyncio.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set the stop event (when we run in the main thread)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop_event.set)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_polling(
    bot: Bot,
    handler: ConversationHandler,
    *,
    stop_event: asyncio.Event | None = None,
    apology: Apology = default_apology,
    clock: Clock | None = None,
    polling_timeout: int = 10,
    drain_timeout: float = 10.0,
    close_session: bool = True,
    limiter: RateLimiter | None = None,
) -> None:
    """Long-poll getUpdates until `stop_event` is set (or SIGINT/SIGTERM when None).

    A stop lets the updates in flight finish (`drain_timeout` seconds, then they are
    cancelled) and confirms those handled: the others go to the next start. `limiter`: the
    bot's send budget, shared with the outbox worker."""
    processor = UpdateProcessor(bot, handler, apology=apology, clock=clock, limiter=limiter)
    confirmations = Confirmations()
    own_stop = stop_event or asyncio.Event()
    try:
        # getUpdates is refused while a webhook is set (e.g. after running in webhook mode).
        await bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            poll(
                bot,
                processor,
                confirmations,
                polling_timeout=polling_timeout,
                allowed_updates=ALLOWED_UPDATES,
            )
        )
        with stop_on_signals(own_stop) if stop_event is None else contextlib.nullcontext():
            await _until_stopped(polling, own_stop)
    finally:
        await processor.drain(drain_timeout)
        await confirm(bot, confirmations.offset)
        if close_session:
            await bot.session.close()


async def _until_stopped(polling: asyncio.Task[None], stop_event: asyncio.Event) -> None:
    stopper = asyncio.create_task(stop_event.wait())
    try:
        await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        polling.cancel()  # a getUpdates cut short: what it would have brought stays pending
        with contextlib.suppress(asyncio.CancelledError):
            await polling
    if not polling.cancelled():
        polling.result()  # re-raise a polling failure (e.g. 401: a revoked token)


async def run_webhook(
    bot: Bot,
    handler: ConversationHandler,
    *,
    url: str,
    secret: str,
    host: str = "127.0.0.1",
    port: int = 8080,
    path: str | None = None,
    stop_event: asyncio.Event | None = None,
    apology: Apology = default_apology,
    clock: Clock | None = None,
    drain_timeout: float = 10.0,
    close_session: bool = True,
    limiter: RateLimiter | None = None,
    more_routes: Callable[[web.Application], None] | None = None,
) -> None:
    """Serve Telegram's webhook POSTs on host:port until `stop_event` (or a signal).

    `url` is the public address registered with setWebhook (its path is served unless
    `path` is given); the webhook stays set on exit so Telegram keeps updates meanwhile.
    `more_routes` adds what else the same server serves (Zalo's webhook, upload pages).
    """
    processor = UpdateProcessor(bot, handler, apology=apology, clock=clock, limiter=limiter)
    intake = WebhookIntake(processor, secret=secret)
    app = intake.app(path or urlsplit(url).path or "/")
    if more_routes is not None:
        more_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    own_stop = stop_event or asyncio.Event()
    try:
        await web.TCPSite(runner, host, port).start()
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        with stop_on_signals(own_stop) if stop_event is None else contextlib.nullcontext():
            await own_stop.wait()
    finally:
        intake.close()  # take no more updates: Telegram delivers them to the next start
        await processor.drain(drain_timeout)  # each POST in flight is answered meanwhile
        await runner.cleanup()
        if close_session:
            await bot.session.close()


# aiogram parses every Bot API answer as `Response[<result type>]`; pydantic keeps those
# generic classes only weakly, so each full garbage collection drops them and the next call
# rebuilds the schema (a few milliseconds each, far more under load). Holding them here keeps
# them: one for the result type of each method the bot calls.
_RESPONSE_TYPES: list[Any] = []


def keep_response_types() -> None:
    _RESPONSE_TYPES.extend(
        [
            Response[User],  # getMe
            Response[list[Update]],  # getUpdates
            Response[File],  # getFile
            Response[Message],  # sendMessage, sendDocument, sendPhoto
            Response[Message | bool],  # editMessageText, editMessageReplyMarkup
            Response[bool],  # answerCallbackQuery, setMyCommands, (delete|set)Webhook...
        ]
    )

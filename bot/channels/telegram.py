"""The Telegram channel (aiogram 3): building the Bot, polling or webhook, stopping.

Every update becomes a neutral `Inbound` (telegram_inbound), goes through the conversation
handler and its replies are rendered back (telegram_outbound); telegram_updates ties the
two together. Chats are served concurrently, each update in a task the processor owns, so
stopping waits for the replies in flight before the HTTP session closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import AiogramError, TelegramNetworkError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BotCommand, File, Message, Update, User
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from bot.channels.telegram_outbound import TelegramChannel
from bot.channels.telegram_updates import (
    DEFAULT_APOLOGY,
    Apology,
    UpdateProcessor,
    bot_username,
    default_apology,
)
from common.clock import Clock
from common.messages import ConversationHandler

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_APOLOGY",
    "Apology",
    "ConversationHandler",
    "TelegramChannel",
    "UpdateProcessor",
    "bot_username",
    "build_bot",
    "build_dispatcher",
    "build_webhook_app",
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


class PollWhenSettled(BaseRequestMiddleware):
    """Under load, ask for the next updates a moment later, in one batch.

    While updates are still being handled, a getUpdates sent at once brings back one or two
    updates: a round trip for each. Pausing `pause` seconds first lets the next ones gather,
    so each poll brings a batch. An idle bot polls at once: no delay when it is quiet."""

    def __init__(
        self,
        busy: Callable[[], bool],
        pause: float = 0.01,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.busy, self.pause, self.sleep = busy, pause, sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates) and self.busy():
            await self.sleep(self.pause)
        return await make_request(bot, method)


def build_dispatcher(processor: UpdateProcessor) -> Dispatcher:
    """Every message and every pressed button go to the processor (registered on the
    dispatcher itself: a router of its own would only add a level to every update)."""
    # Conversation state lives in our database: aiogram's FSM would only add work per update.
    dispatcher = Dispatcher(disable_fsm=True)
    dispatcher.update.outer_middleware(processor.track)
    dispatcher.message.register(processor.on_message)
    dispatcher.callback_query.register(processor.on_callback)
    return dispatcher


async def _confirm_taken(bot: Bot, last_update_id: int | None) -> None:
    """Tell Telegram the updates handled so far are done, so the next start does not get
    them again. Polling confirms an update only with the next getUpdates, which a stop
    cuts short; a getUpdates with the next offset confirms them (what it returns is not
    confirmed: the next process gets it)."""
    if last_update_id is None:
        return
    try:
        await bot.get_updates(offset=last_update_id + 1, limit=1, timeout=0)
    except (TimeoutError, AiogramError, OSError) as error:
        log.warning("could not confirm updates up to %s: %s", last_update_id, error)


@contextlib.contextmanager
def _stop_on_signals(stop_event: asyncio.Event) -> Iterator[None]:
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
) -> None:
    """Long-poll getUpdates until `stop_event` is set (or SIGINT/SIGTERM when None)."""
    processor = UpdateProcessor(bot, handler, apology=apology, clock=clock)
    dispatcher = build_dispatcher(processor)
    own_stop = stop_event or asyncio.Event()
    pacing = PollWhenSettled(lambda: processor.busy)
    bot.session.middleware(pacing)
    try:
        # getUpdates is refused while a webhook is set (e.g. after running in webhook mode).
        await bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                polling_timeout=polling_timeout,
                handle_as_tasks=False,  # the processor spawns its own tasks
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=ALLOWED_UPDATES,
            )
        )
        with _stop_on_signals(own_stop) if stop_event is None else contextlib.nullcontext():
            await _until_stopped(dispatcher, polling, own_stop)
    finally:
        bot.session.middleware.unregister(pacing)
        await processor.drain(drain_timeout)
        await _confirm_taken(bot, processor.last_update_id)
        if close_session:
            await bot.session.close()


async def _until_stopped(
    dispatcher: Dispatcher, polling: asyncio.Task[None], stop_event: asyncio.Event
) -> None:
    stopper = asyncio.create_task(stop_event.wait())
    try:
        await asyncio.wait({polling, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not polling.done():
            try:
                await dispatcher.stop_polling()
            except RuntimeError:  # stopped before polling even started
                polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
    if not polling.cancelled():
        polling.result()  # re-raise a polling failure (e.g. 401 on getMe)


def build_webhook_app(processor: UpdateProcessor, *, secret: str, path: str) -> web.Application:
    """An aiohttp app taking Telegram's POSTs at `path`; a wrong or missing
    X-Telegram-Bot-Api-Secret-Token header gets 401."""
    if not secret:
        raise ValueError("a webhook needs a secret token: anyone could post updates otherwise")
    requests = SimpleRequestHandler(
        dispatcher=build_dispatcher(processor),
        bot=processor.bot,
        secret_token=secret,
        handle_in_background=False,  # our handler only spawns a task: answering is instant
    )
    app = web.Application()
    # Not requests.register(): it would close the bot session on app shutdown, and the
    # session must outlive the app until the replies in flight are sent.
    app.router.add_post(path, requests.handle)
    return app


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
) -> None:
    """Serve Telegram's webhook POSTs on host:port until `stop_event` (or a signal).

    `url` is the public address registered with setWebhook (its path is served unless
    `path` is given); the webhook stays set on exit so Telegram keeps updates meanwhile.
    """
    processor = UpdateProcessor(bot, handler, apology=apology, clock=clock)
    app = build_webhook_app(processor, secret=secret, path=path or urlsplit(url).path or "/")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    own_stop = stop_event or asyncio.Event()
    try:
        await web.TCPSite(runner, host, port).start()
        await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        with _stop_on_signals(own_stop) if stop_event is None else contextlib.nullcontext():
            await own_stop.wait()
    finally:
        await runner.cleanup()  # stop taking updates first, then finish the ones taken
        await processor.drain(drain_timeout)
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

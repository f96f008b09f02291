"""`cchc-bot run`: the Telegram bot (polling or webhook) with the outbox delivery worker.

Everything long-lived is built here once and passed down: the App (settings, database,
catalog, clock), the aiogram Bot, the conversation Dispatcher and the DeliveryWorker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass

from aiogram import Bot

from bot.app import App
from bot.channels.telegram import (
    TelegramChannel,
    bot_username,
    build_bot,
    keep_response_types,
    run_polling,
    run_webhook,
    set_commands,
)
from bot.console.serve import serving_console
from bot.deps import build_deps, telegram_limits
from bot.outbox_render import make_renderer
from bot.settings import OFFICIAL_TELEGRAM_API, Settings
from common.messages import Inbound
from handlers.dispatcher import Dispatcher
from schedules.delivery import DeliveryWorker
from schedules.pacing import Pacer
from schedules.scheduler import Jobs, start_scheduler

log = logging.getLogger(__name__)

MENU = ("checklist", "status", "review", "help", "lang")


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    host: str = "0.0.0.0"
    port: int = 8080


def telegram_bot(settings: Settings) -> Bot:
    """The Bot the settings describe: its token, the Bot API server, the proxy to reach it."""
    token = settings.token()
    if not token:
        raise ValueError("BOT_TOKEN is not set")
    api_url = settings.telegram_api_url
    return build_bot(
        token, None if api_url == OFFICIAL_TELEGRAM_API else api_url, proxy=settings.proxy()
    )


async def run_bot(
    app: App, *, webhook: WebhookOptions | None = None, stop: asyncio.Event | None = None
) -> None:
    bot = telegram_bot(app.settings)
    username = app.settings.bot_username or await bot_username(bot)
    await _set_menu(app, bot)
    # One send budget for the bot, shared by replies and the outbox. It starts with a
    # window's pause: a process restarted in a hurry does not know what its predecessor
    # sent in the last second.
    limiter = Pacer(telegram_limits(app), started=time.monotonic())
    instance = app.settings.outbox_instance or socket.gethostname()
    worker = DeliveryWorker(
        app.sessions,
        {"telegram": TelegramChannel(bot)},
        make_renderer(app.catalog),
        app.clock,
        {"telegram": limiter},
        worker_id=f"{instance}:{os.getpid()}:{secrets.token_hex(4)}",
        instance=instance,
        pace_clock=time.monotonic,  # as the replies' Outbound counts
    )
    deps = build_deps(app, username)
    deps.on_outbox = worker.notify
    dispatcher = Dispatcher(deps)
    stop = stop or asyncio.Event()
    delivery = asyncio.create_task(worker.run(stop), name="outbox-delivery")
    jobs = Jobs(app.sessions, app.clock, deps.admin_ids, on_outbox=worker.notify)
    _, stop_scheduler = start_scheduler(jobs)

    def apology(event: Inbound) -> str:
        return app.catalog.t(event.sender.language or "vi", "common.error")

    keep_response_types()
    # What start-up allocated lives as long as the process: keep it out of the collector's
    # full passes, whose pauses otherwise show up as slow replies.
    gc.freeze()
    log.info("bot @%s starting (%s)", username, "webhook" if webhook else "long polling")
    console = contextlib.AsyncExitStack()
    await console.enter_async_context(serving_console(app))
    try:
        if webhook:
            secret = app.settings.webhook_secret
            await run_webhook(
                bot,
                dispatcher.handle,
                url=webhook.url,
                host=webhook.host,
                port=webhook.port,
                apology=apology,
                clock=app.clock,
                secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
                stop_event=stop,
                close_session=False,
                limiter=limiter,
            )
        else:
            await run_polling(
                bot,
                dispatcher.handle,
                apology=apology,
                clock=app.clock,
                stop_event=stop,
                close_session=False,
                limiter=limiter,
            )
    finally:
        stop.set()
        await console.aclose()
        await stop_scheduler()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
        await bot.session.close()


async def _set_menu(app: App, bot: Bot) -> None:
    """The command menu in Vietnamese (default) and English."""
    for locale in ("vi", "en"):
        commands = [(name, app.catalog.t(locale, f"menu.{name}")) for name in MENU]
        try:
            await set_commands(bot, commands, language_code=None if locale == "vi" else locale)
        except Exception:  # the menu is a convenience: never a reason not to start
            log.warning("could not set the command menu", exc_info=True)

"""`cchc-bot run`: every configured channel (Telegram, Zalo) with the outbox delivery worker.

Everything long-lived is built here once and passed down: the App (settings, database,
catalog, clock), the aiogram Bot, the Zalo HTTP client, the conversation Dispatcher and
the DeliveryWorker.
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
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiogram import Bot
from aiohttp import web

from bot.app import App
from bot.channel_status import ChannelStatus
from bot.channels.telegram import (
    TelegramChannel,
    bot_username,
    build_bot,
    keep_response_types,
    run_polling,
    run_webhook,
    set_commands,
)
from bot.channels.telegram_watch import watch
from bot.channels.zalo import ZaloChannel, ZaloEvents, ZaloWebhook
from bot.channels.zalo import run_polling as zalo_polling
from bot.channels.zalo import set_webhook as set_zalo_webhook
from bot.channels.zalo_api import ZaloApi, build_client
from bot.channels.zalo_media import MediaLinks
from bot.console.serve import serving_console
from bot.deps import build_deps, telegram_limits, zalo_limits
from bot.outbox_render import make_renderer
from bot.settings import OFFICIAL_TELEGRAM_API, Settings
from common.messages import Inbound
from handlers.dispatcher import Dispatcher
from schedules.delivery import Channel, DeliveryWorker
from schedules.pacing import Pacer
from schedules.scheduler import Jobs, start_scheduler

log = logging.getLogger(__name__)

MENU = ("checklist", "status", "review", "khacphuc", "help", "lang")


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


def zalo_webhook_url(url: str) -> str:
    """Zalo's webhook beside Telegram's on the same server: `<url>/zalo`."""
    return url.rstrip("/") + "/zalo"


@dataclass
class _Served:
    """The channels one process serves, built from the settings."""

    channels: dict[str, Channel] = field(default_factory=dict)
    # One send budget per bot, shared by its replies and the outbox. Each starts with a
    # window's pause: a process restarted in a hurry does not know what its predecessor
    # sent in the last second. Pacing counts time.monotonic, never the campaign clock.
    limiters: dict[str, Pacer] = field(default_factory=dict)
    bot: Bot | None = None
    username: str | None = None
    zalo: ZaloChannel | None = None
    client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self.bot is not None:
            await self.bot.session.close()
        if self.client is not None:
            await self.client.aclose()


def _media(app: App) -> MediaLinks | None:
    """Pictures for Zalo need a public address and the web server that serves it."""
    settings = app.settings
    if not settings.public_url or settings.web_port is None:
        return None
    directory = settings.evidence_dir / ".zalo-media"
    return MediaLinks(directory, public_url=settings.public_url, clock=app.clock)


async def _channels(app: App) -> _Served:
    settings, served = app.settings, _Served()
    served.username = settings.bot_username
    try:
        if settings.token():
            served.bot = telegram_bot(settings)
            served.username = settings.bot_username or await bot_username(served.bot)
            await _set_menu(app, served.bot)
            served.channels["telegram"] = TelegramChannel(served.bot)
            served.limiters["telegram"] = Pacer(telegram_limits(app), started=time.monotonic())
        zalo_token = settings.zalo_token()
        if zalo_token:
            served.client = build_client()
            pacer = Pacer(zalo_limits(app), started=time.monotonic())
            api = ZaloApi(served.client, zalo_token, settings.zalo_bot_api_url)
            served.zalo = ZaloChannel(api, media=_media(app), limiter=pacer)
            served.channels["zalo"] = served.zalo
            served.limiters["zalo"] = pacer
    except BaseException:
        await served.close()
        raise
    if not served.channels:
        raise ValueError("neither BOT_TOKEN nor ZALO_BOT_TOKEN is set")
    return served


def channel_status(app: App, served: _Served, webhook: bool) -> ChannelStatus:
    """What the console's health page shows of each bot: its calls to the platform are
    watched through aiogram's request middleware and httpx's response hook."""
    status = ChannelStatus(app.clock.now, telegram_username=served.username)
    mode = "webhook" if webhook else "polling"
    if served.bot is not None:
        status.add("telegram", f"@{served.username}" if served.username else "Telegram", mode)
        watch(served.bot, status.bots["telegram"], status.now)
    if served.client is not None:
        status.add("zalo", "Zalo", mode)
        hook = status.zalo_hook(urlsplit(app.settings.zalo_bot_api_url).netloc)
        served.client.event_hooks["response"] = [*served.client.event_hooks["response"], hook]
    return status


async def run_bot(
    app: App, *, webhook: WebhookOptions | None = None, stop: asyncio.Event | None = None
) -> None:
    """Serve every configured channel (Telegram, Zalo or both) until `stop`."""
    served = await _channels(app)
    instance = app.settings.outbox_instance or socket.gethostname()
    worker = DeliveryWorker(
        app.sessions,
        served.channels,
        make_renderer(app.catalog),
        app.clock,
        dict(served.limiters),
        worker_id=f"{instance}:{os.getpid()}:{secrets.token_hex(4)}",
        instance=instance,
        pace_clock=time.monotonic,  # as the replies' Outbound counts
    )
    deps = build_deps(app, served.username)
    status = channel_status(app, served, webhook is not None)
    deps.on_outbox = worker.notify
    dispatcher = Dispatcher(deps)
    stop = stop or asyncio.Event()
    delivery = asyncio.create_task(worker.run(stop), name="outbox-delivery")
    jobs = Jobs(app.sessions, app.clock, deps.admin_ids, on_outbox=worker.notify)
    _, stop_scheduler = start_scheduler(jobs)

    def apology(event: Inbound) -> str:
        return app.catalog.t(event.sender.language or "vi", "common.error")

    zalo_events = None
    if served.zalo is not None:
        zalo_events = ZaloEvents(
            served.zalo,
            dispatcher.handle,
            clock=app.clock,
            apology=apology,
            max_photo_bytes=app.settings.evidence_max_bytes,
        )
    keep_response_types()
    # What start-up allocated lives as long as the process: keep it out of the collector's
    # full passes, whose pauses otherwise show up as slow replies.
    gc.freeze()
    log.info(
        "serving %s (%s)", ", ".join(served.channels), "webhook" if webhook else "long polling"
    )
    console = contextlib.AsyncExitStack()
    media = served.zalo.media if served.zalo is not None else None
    await console.enter_async_context(
        serving_console(app, status, more_routes=media.routes if media is not None else None)
    )
    try:
        if webhook:
            work = _webhooks(app, served, dispatcher, zalo_events, webhook, apology, stop)
        else:
            work = _polling(served, dispatcher, zalo_events, apology, app, stop)
        await _all_until_one_fails(work, stop)
    finally:
        stop.set()
        await console.aclose()
        await stop_scheduler()
        with contextlib.suppress(asyncio.CancelledError):
            await delivery
        await served.close()


def _polling(
    served: _Served,
    dispatcher: Dispatcher,
    zalo_events: ZaloEvents | None,
    apology: Callable[[Inbound], str],
    app: App,
    stop: asyncio.Event,
) -> list[Coroutine[Any, Any, None]]:
    work: list[Coroutine[Any, Any, None]] = []
    if served.bot is not None:
        work.append(
            run_polling(
                served.bot,
                dispatcher.handle,
                apology=apology,
                clock=app.clock,
                stop_event=stop,
                close_session=False,
                limiter=served.limiters.get("telegram"),
            )
        )
    if served.zalo is not None and zalo_events is not None:
        work.append(zalo_polling(served.zalo.api, zalo_events, stop))
    return work


def _webhooks(
    app: App,
    served: _Served,
    dispatcher: Dispatcher,
    zalo_events: ZaloEvents | None,
    options: WebhookOptions,
    apology: Callable[[Inbound], str],
    stop: asyncio.Event,
) -> list[Coroutine[Any, Any, None]]:
    """One HTTP server for both platforms' webhooks: Telegram at the URL, Zalo beside it."""
    zalo_hook = None
    if served.zalo is not None and zalo_events is not None:
        zalo_secret = app.settings.zalo_webhook_secret
        zalo_hook = ZaloWebhook(
            zalo_events,
            secret=zalo_secret.get_secret_value() if zalo_secret else secrets.token_urlsafe(32),
        )
    zalo_url = zalo_webhook_url(options.url)

    def zalo_routes(web_app: web.Application) -> None:
        if zalo_hook is not None:
            zalo_hook.routes(web_app, urlsplit(zalo_url).path)

    async def register_zalo() -> None:
        if served.zalo is not None and zalo_hook is not None:
            await set_zalo_webhook(served.zalo.api, zalo_url, zalo_hook.secret.decode())

    if served.bot is None:
        return [_zalo_only_webhook(options, zalo_routes, register_zalo, zalo_events, stop)]
    secret = app.settings.webhook_secret

    async def both() -> None:
        await register_zalo()
        assert served.bot is not None
        try:
            await run_webhook(
                served.bot,
                dispatcher.handle,
                url=options.url,
                host=options.host,
                port=options.port,
                apology=apology,
                clock=app.clock,
                secret=secret.get_secret_value() if secret else secrets.token_urlsafe(32),
                stop_event=stop,
                close_session=False,
                limiter=served.limiters.get("telegram"),
                more_routes=zalo_routes,
            )
        finally:
            if zalo_events is not None:
                await zalo_events.drain()

    return [both()]


async def _zalo_only_webhook(
    options: WebhookOptions,
    routes: Callable[[web.Application], None],
    register: Callable[[], Awaitable[None]],
    events: ZaloEvents | None,
    stop: asyncio.Event,
) -> None:
    web_app = web.Application()
    routes(web_app)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, options.host, options.port).start()
        await register()
        await stop.wait()
    finally:
        await runner.cleanup()  # its shutdown closes the hook and drains the events
        if events is not None:
            await events.drain()


async def _all_until_one_fails(work: list[Coroutine[Any, Any, None]], stop: asyncio.Event) -> None:
    """Run each channel's loop; the first to fail stops the others, and its error is raised."""
    tasks = [asyncio.create_task(w) for w in work]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def _set_menu(app: App, bot: Bot) -> None:
    """The command menu in Vietnamese (default) and English."""
    for locale in ("vi", "en"):
        commands = [(name, app.catalog.t(locale, f"menu.{name}")) for name in MENU]
        try:
            await set_commands(bot, commands, language_code=None if locale == "vi" else locale)
        except Exception:  # the menu is a convenience: never a reason not to start
            log.warning("could not set the command menu", exc_info=True)

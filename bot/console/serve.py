"""Serving the console beside the bot: `cchc-bot run` starts it on WEB_PORT."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from aiohttp import web

from bot.app import App
from bot.channel_status import ChannelStatus
from bot.console.admin_routes import AdminOptions
from bot.console.app import Console
from storage.services.evidence import EvidenceStore

log = logging.getLogger(__name__)


def console_for(app: App, status: ChannelStatus | None = None) -> Console:
    url = app.settings.console_url() or ""
    admins = {
        "telegram": frozenset(str(i) for i in app.settings.admin_telegram_ids),
        "zalo": frozenset(app.settings.admin_zalo_ids),
    }
    return Console(
        app.sessions,
        app.catalog,
        app.clock,
        secure_cookies=url.startswith("https://"),
        admin_ids=admins,
        evidence=EvidenceStore(app.settings.evidence_dir),
        admin=AdminOptions(
            status=status,
            bot_username=app.settings.bot_username,
            zalo_link=app.settings.zalo_bot_link,
            invite_ttl=timedelta(days=app.settings.invite_ttl_days),
        ),
        max_evidence_bytes=app.settings.evidence_max_bytes,
        notice=app.settings.notice_settings(),
    )


@asynccontextmanager
async def serving_console(
    app: App,
    status: ChannelStatus | None = None,
    *,
    more_routes: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[None]:
    """The console on WEB_HOST:WEB_PORT while the block runs; nothing when WEB_PORT is unset.
    `status` is what the runner knows of its bots (the admin's channel health page);
    `more_routes`: what else the same server serves (the pictures sent on Zalo)."""
    port = app.settings.web_port
    if port is None:
        yield
        return
    web_app = console_for(app, status).app()
    if more_routes is not None:
        more_routes(web_app)
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        await web.TCPSite(runner, app.settings.web_host, port).start()
        log.info("desk console on port %s, links to %s", port, app.settings.console_url())
        yield
    finally:
        await runner.cleanup()

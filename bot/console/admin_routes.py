"""The desk console's admin pages: import, invite codes, broadcasts, channel health.

    GET  /admin                      campaigns, with links to each one's admin pages
    GET  /admin/health               each bot connected or not, outbox backlog, reminders
    GET  /admin/c/{id}               one campaign's admin links
    ...  /admin/import...            bot/console/admin_import.py
    ...  /admin/c/{id}/invites...    bot/console/admin_invites.py
    ...  /admin/c/{id}/notices...    bot/console/admin_notices.py

Who may open them and how they are rendered: bot/console/admin_base.py.
"""

from __future__ import annotations

from aiohttp import web

from bot.console.admin_base import AdminOptions, AdminPages, Console
from bot.console.admin_import import ImportPages
from bot.console.admin_invites import InvitePages
from bot.console.admin_notices import NoticePages
from common.localtime import fmt_datetime
from storage.db import transaction
from storage.db.models import Campaign
from storage.services.board import campaigns_by_id
from storage.services.delivery_report import last_reminder_pass, outbox_backlog

__all__ = ["AdminOptions", "register_admin"]


def register_admin(app: web.Application, console: Console, options: AdminOptions) -> None:
    admin = AdminPages(console, options)
    IndexPages(admin).register(app)
    ImportPages(admin).register(app)
    InvitePages(admin).register(app)
    NoticePages(admin).register(app)


class IndexPages:
    def __init__(self, admin: AdminPages) -> None:
        self.admin = admin
        self.console = admin.console
        self.options = admin.options
        self.guard = admin.guard
        self.page = admin.page

    def register(self, app: web.Application) -> None:
        app.router.add_get("/admin", self.index)
        app.router.add_get("/admin/health", self.health)
        app.router.add_get("/admin/c/{campaign_id:[0-9]+}", self.campaign)

    async def index(self, request: web.Request) -> web.Response:
        viewer = await self.guard(request, "admin.index")
        async with transaction(self.console.sessions) as session:
            found = await campaigns_by_id(session, None)
        return self.page(request, viewer, "admin/index.html", campaigns=found)

    async def campaign(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer = await self.guard(request, "admin.campaign", campaign_id)
        async with transaction(self.console.sessions) as session:
            campaign = await session.get(Campaign, campaign_id)
        return self.page(request, viewer, "admin/campaign.html", campaign=campaign)

    async def health(self, request: web.Request) -> web.Response:
        viewer = await self.guard(request, "admin.health")
        now = self.console.clock.now()
        async with transaction(self.console.sessions) as session:
            backlog = await outbox_backlog(session, now=now)
            reminders = await last_reminder_pass(session)
        status = self.options.status
        bots = list(status.bots.values()) if status else []
        return self.page(
            request,
            viewer,
            "admin/health.html",
            served=status is not None,
            bots=[
                {
                    "bot": bot,
                    "connected": bot.connected(now),
                    "last_ok": fmt_datetime(bot.last_ok),
                    "last_failure": fmt_datetime(bot.last_failure),
                }
                for bot in bots
            ],
            backlog=backlog,
            reminders=fmt_datetime(reminders),
        )

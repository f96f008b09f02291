"""Invite codes of a campaign in the console (admins only; codes are shown to no one else).

    GET  /admin/c/{id}/invites          every code: role, unit or team, contact, state, expiry
    POST /admin/c/{id}/invites/revoke   revoke a code (a used one: the person loses the role)
    POST /admin/c/{id}/invites/reissue  revoke it if still valid, issue a new code for its slot
    GET  /admin/c/{id}/invites/sheet    a printable sheet: per live code a card with the code,
                                        a QR code of the Telegram deep link and of the Zalo
                                        bot's link when they are known

The services are `cchc-bot invites`' (storage/services/invites.py).
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.admin_base import AdminPages
from common.localtime import fmt_date
from storage.db import transaction
from storage.db.models import Assignment, Campaign, Invite, Role, Team, Unit
from storage.services.invite_codes import format_code, normalize_code
from storage.services.invites import (
    InviteError,
    InviteState,
    list_invites,
    new_invite,
    revoke_invite,
)


def qr_svg(link: str) -> Markup:
    """An inline SVG QR code (segno's own SVG: no script, no external reference)."""
    import segno  # only the sheet needs it: the console starts without loading it

    return Markup(segno.make(link, error="m").svg_inline(scale=3, svgclass="qr"))


class InvitePages:
    def __init__(self, admin: AdminPages) -> None:
        self.admin = admin
        self.console = admin.console

    def register(self, app: web.Application) -> None:
        base = "/admin/c/{campaign_id:[0-9]+}/invites"
        app.router.add_get(base, self.listing)
        app.router.add_post(base + "/revoke", self.revoke)
        app.router.add_post(base + "/reissue", self.reissue)
        app.router.add_get(base + "/sheet", self.sheet)

    async def listing(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer = await self.admin.guard(request, "admin.invites", campaign_id)
        async with transaction(self.console.sessions) as session:
            campaign = await session.get(Campaign, campaign_id)
            rows = await list_invites(
                session,
                campaign_id,
                now=self.console.clock.now(),
                bot_username=self.admin.options.username(),
                include_inactive=True,
            )
        assert campaign is not None  # the guard refused an unknown campaign
        return self.admin.page(
            request,
            viewer,
            "admin/invites.html",
            campaign=campaign,
            rows=rows,
            code=format_code,
            date=lambda value: fmt_date(value, campaign.timezone),
        )

    async def _invite(self, request: web.Request, campaign_id: int) -> tuple[str, dict[str, str]]:
        viewer = await self.admin.guard(request, "admin.invites", campaign_id)
        form = await self.console.check_csrf(request, viewer)
        return f"web:{viewer.person.id}", form

    async def revoke(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        actor, form = await self._invite(request, campaign_id)
        path = f"/admin/c/{campaign_id}/invites"
        try:
            async with transaction(self.console.sessions) as session:
                if await self._campaign_of(session, form.get("code", "")) != campaign_id:
                    raise InviteError("unknown")
                await revoke_invite(
                    session, form["code"], now=self.console.clock.now(), actor_label=actor
                )
        except InviteError as error:
            raise self.admin.redirect(path, error=_error_key(error)) from None
        raise self.admin.redirect(path, done="revoked")

    async def reissue(self, request: web.Request) -> web.Response:
        """A lost or leaked code: revoke it (unless it is already) and issue a new code for
        the same unit contact or team slot."""
        campaign_id = int(request.match_info["campaign_id"])
        actor, form = await self._invite(request, campaign_id)
        path = f"/admin/c/{campaign_id}/invites"
        now = self.console.clock.now()
        try:
            async with transaction(self.console.sessions) as session:
                found = (
                    await session.execute(
                        select(Invite, Unit.code, Team.code)
                        .outerjoin(Assignment, Assignment.id == Invite.assignment_id)
                        .outerjoin(Unit, Unit.id == Assignment.unit_id)
                        .outerjoin(Team, Team.id == Invite.team_id)
                        .where(Invite.code == normalize_code(form.get("code", "")))
                    )
                ).first()
                if found is None or found[0].campaign_id != campaign_id:
                    raise InviteError("unknown")
                invite, unit_code, team_code = found
                campaign = await session.get(Campaign, campaign_id)
                assert campaign is not None
                if invite.revoked_at is None:
                    await revoke_invite(session, invite.code, now=now, actor_label=actor)
                await new_invite(
                    session,
                    campaign,
                    Role(invite.role),
                    now=now,
                    ttl=self.admin.options.invite_ttl,
                    unit_code=unit_code,
                    team_code=team_code,
                    actor_label=actor,
                )
        except InviteError as error:
            raise self.admin.redirect(path, error=_error_key(error)) from None
        raise self.admin.redirect(path, done="reissued")

    @staticmethod
    async def _campaign_of(session: AsyncSession, typed_code: str) -> int | None:
        found: int | None = await session.scalar(
            select(Invite.campaign_id).where(Invite.code == normalize_code(typed_code))
        )
        return found

    async def sheet(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer = await self.admin.guard(request, "admin.invite_sheet", campaign_id)
        options = self.admin.options
        async with transaction(self.console.sessions) as session:
            campaign = await session.get(Campaign, campaign_id)
            rows = await list_invites(
                session,
                campaign_id,
                now=self.console.clock.now(),
                bot_username=options.username(),
            )
        assert campaign is not None
        live = [row for row in rows if row.state == InviteState.LIVE.value]
        zalo_qr = qr_svg(options.zalo_link) if options.zalo_link else None
        cards = [
            {
                "row": row,
                "code": format_code(row.code),
                "qr": qr_svg(row.link) if row.link else None,
            }
            for row in live
        ]
        return self.admin.page(
            request,
            viewer,
            "admin/invite_sheet.html",
            campaign=campaign,
            cards=cards,
            zalo_link=options.zalo_link,
            zalo_qr=zalo_qr,
            date=lambda value: fmt_date(value, campaign.timezone),
        )


def _error_key(error: InviteError) -> str:
    if error.reason == "already_revoked":
        return "already_revoked"
    return "unknown_code" if error.reason == "unknown" else "invite_failed"

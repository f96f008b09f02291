"""Broadcasts (notices) from the console (admins only).

    GET  /admin/c/{id}/notices                 compose, and every notice with its counts
    POST /admin/c/{id}/notices/preview         the text, audience, time and how many people
                                               it reaches now; writes nothing
    POST /admin/c/{id}/notices                 store it (and dispatch it if due now)
    GET  /admin/c/{id}/notices/{nid}           delivery report, by channel
    POST /admin/c/{id}/notices/{nid}/resend    send the messages in doubt again

The audiences are the chat /broadcast's for an admin (handlers/broadcast.py): every unit,
the units not submitted, the overdue ones, the teams' people, one team. The services are
`cchc-bot notice`'s (storage/services/notices.py). The time is typed in the campaign's
timezone and stored in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.admin_base import AdminPages, Viewer
from common.i18n import Translator
from common.localtime import fmt_datetime, zone
from handlers.broadcast import ADMIN_AUDIENCES
from storage.db import transaction
from storage.db.models import Campaign
from storage.services.delivery_report import notice_by_channel
from storage.services.notices import (
    AUDIENCES,
    MAX_TEXT_LENGTH,
    NoticeError,
    create_notice,
    dispatch_notice,
    notice_by_id,
    notice_report,
    parse_audience,
    resend_notice,
    resolve_audience,
)
from storage.services.teams import campaign_teams


@dataclass(frozen=True)
class Draft:
    """The compose form as typed: validated again at every step."""

    text: str
    audience: str
    at: str  # "YYYY-MM-DDTHH:MM" from <input type=datetime-local>, local; "" for now

    def send_at(self, tz: str, now: datetime) -> datetime:
        """UTC; ValueError for a time that is not one. Past or empty: now."""
        if not self.at:
            return now
        local = datetime.fromisoformat(self.at)
        if local.tzinfo is not None:
            raise ValueError(self.at)
        return max(local.replace(tzinfo=zone(tz)).astimezone(UTC), now)


def audience_words(tr: Translator, audience: str) -> str:
    """ "team:D1" -> "Các đơn vị của D1"; the stored audience in the reader's words."""
    kind, _, code = audience.partition(":")
    return tr(f"broadcast.audience.{kind}", team=code)


class NoticePages:
    def __init__(self, admin: AdminPages) -> None:
        self.admin = admin
        self.console = admin.console

    def _tr(self, viewer: Viewer) -> Translator:
        return self.console.catalog.for_locale(viewer.locale)

    def register(self, app: web.Application) -> None:
        base = "/admin/c/{campaign_id:[0-9]+}/notices"
        app.router.add_get(base, self.compose)
        app.router.add_post(base + "/preview", self.preview)
        app.router.add_post(base, self.send)
        app.router.add_get(base + "/{notice_id:[0-9]+}", self.report)
        app.router.add_post(base + "/{notice_id:[0-9]+}/resend", self.resend)

    @staticmethod
    async def _audiences(session: AsyncSession, campaign_id: int) -> list[tuple[str, str, str]]:
        """(value, catalog key, team name) for the audience choice."""
        teams = await campaign_teams(session, campaign_id)
        fixed = [(a, f"broadcast.audience.{a}", "") for a in ADMIN_AUDIENCES]
        return fixed + [(f"team:{t.code}", "broadcast.audience.team", t.name) for t in teams]

    async def _compose(
        self,
        request: web.Request,
        viewer: Viewer,
        campaign_id: int,
        draft: Draft | None = None,
        problem: str = "",
        status: int = 200,
    ) -> web.Response:
        async with transaction(self.console.sessions) as session:
            audiences = await self._audiences(session, campaign_id)
            campaign = await session.get(Campaign, campaign_id)
            reports = await notice_report(session, campaign_id)
        assert campaign is not None  # the guard refused an unknown campaign
        return self.admin.page(
            request,
            viewer,
            "admin/notices.html",
            status,
            campaign=campaign,
            audiences=audiences,
            draft=draft or Draft("", "all", ""),
            problem=problem,
            max_length=MAX_TEXT_LENGTH,
            reports=list(reversed(reports)),  # the latest first
            audience=lambda value: audience_words(self._tr(viewer), value),
            datetime=lambda value: fmt_datetime(value, campaign.timezone),
        )

    async def compose(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer = await self.admin.guard(request, "admin.notices", campaign_id)
        return await self._compose(request, viewer, campaign_id)

    async def _draft(self, request: web.Request, campaign_id: int) -> tuple[Viewer, Draft]:
        viewer = await self.admin.guard(request, "admin.notices", campaign_id)
        form = await self.console.check_csrf(request, viewer)
        draft = Draft(
            form.get("text", "").strip(), form.get("audience", ""), form.get("at", "").strip()
        )
        return viewer, draft

    async def _problem(
        self, session: AsyncSession, viewer: Viewer, draft: Draft, campaign: Campaign, now: datetime
    ) -> str:
        """What is wrong with the draft, in words; "" when it can be sent. The audience
        must be one the form offers (an admin's choices in chat, handlers/broadcast.py)."""
        tr = self.console.catalog.for_locale(viewer.locale)
        offered = {value for value, _, _ in await self._audiences(session, campaign.id)}
        try:
            parse_audience(draft.audience)
            if draft.audience not in offered:
                raise NoticeError(
                    "notices.error.bad_audience", audience=draft.audience, audiences=AUDIENCES
                )
            draft.send_at(campaign.timezone, now)
        except NoticeError as error:
            return tr(error.key, **error.params)
        except ValueError:
            return tr("console_admin.notices.bad_time")
        if not draft.text:
            return tr("notices.error.empty_text")
        if len(draft.text) > MAX_TEXT_LENGTH:
            return tr("notices.error.text_too_long", length=len(draft.text), max=MAX_TEXT_LENGTH)
        return ""

    async def preview(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer, draft = await self._draft(request, campaign_id)
        now = self.console.clock.now()
        async with transaction(self.console.sessions) as session:
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            problem = await self._problem(session, viewer, draft, campaign, now)
            recipients = 0
            if not problem:
                found = await resolve_audience(session, campaign_id, draft.audience, now)
                recipients = len(found)
            audiences = await self._audiences(session, campaign_id)
        if problem:
            return await self._compose(request, viewer, campaign_id, draft, problem, 422)
        key, team = next((k, t) for value, k, t in audiences if value == draft.audience)
        return self.admin.page(
            request,
            viewer,
            "admin/notice_preview.html",
            campaign=campaign,
            draft=draft,
            audience_key=key,
            team=team,
            recipients=recipients,
            send_at=fmt_datetime(draft.send_at(campaign.timezone, now), campaign.timezone),
            later=draft.send_at(campaign.timezone, now) > now,
        )

    async def send(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        viewer, draft = await self._draft(request, campaign_id)
        now = self.console.clock.now()
        try:
            async with transaction(self.console.sessions) as session:
                campaign = await session.get(Campaign, campaign_id)
                assert campaign is not None
                problem = await self._problem(session, viewer, draft, campaign, now)
                if problem:
                    raise _Refused(problem)
                notice = await create_notice(
                    session,
                    campaign,
                    audience=draft.audience,
                    text=draft.text,
                    send_at=draft.send_at(campaign.timezone, now),
                    now=now,
                    created_by=viewer.person.id,
                    actor_label="web",
                )
                if notice.send_at <= now:  # due now: its outbox rows exist when the page comes
                    await dispatch_notice(session, notice, now)
        except NoticeError as error:
            tr = self.console.catalog.for_locale(viewer.locale)
            return await self._compose(
                request, viewer, campaign_id, draft, tr(error.key, **error.params), 422
            )
        except _Refused as refused:
            return await self._compose(request, viewer, campaign_id, draft, str(refused), 422)
        raise self.admin.redirect(f"/admin/c/{campaign_id}/notices/{notice.id}")

    async def report(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        notice_id = int(request.match_info["notice_id"])
        viewer = await self.admin.guard(request, "admin.notices", campaign_id)
        async with transaction(self.console.sessions) as session:
            campaign = await session.get(Campaign, campaign_id)
            reports = [r for r in await notice_report(session, campaign_id) if r.id == notice_id]
            channels = await notice_by_channel(session, notice_id) if reports else []
            notice = await notice_by_id(session, notice_id)
        if campaign is None or not reports or notice is None:
            raise web.HTTPNotFound()
        return self.admin.page(
            request,
            viewer,
            "admin/notice_report.html",
            campaign=campaign,
            report=reports[0],
            text=notice.text,
            audience=audience_words(self._tr(viewer), notice.audience),
            channels=channels,
            datetime=lambda value: fmt_datetime(value, campaign.timezone),
        )

    async def resend(self, request: web.Request) -> web.Response:
        campaign_id = int(request.match_info["campaign_id"])
        notice_id = int(request.match_info["notice_id"])
        viewer = await self.admin.guard(request, "admin.notices", campaign_id)
        await self.console.check_csrf(request, viewer)
        async with transaction(self.console.sessions) as session:
            notice = await notice_by_id(session, notice_id)
            if notice is None or notice.campaign_id != campaign_id:
                notice = None
            else:
                count = await resend_notice(
                    session,
                    notice,
                    self.console.clock.now(),
                    actor_id=viewer.person.id,
                    actor_label="web",
                )
        if notice is None:
            raise web.HTTPNotFound()
        path = f"/admin/c/{campaign_id}/notices/{notice_id}"
        raise self.admin.redirect(path, done="resent" if count else "nothing_resent")


class _Refused(Exception):
    """A draft found wrong while sending: nothing is stored (the transaction rolls back)."""

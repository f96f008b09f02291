"""The page of a personal upload link (Zalo, which carries no documents):

    GET  /up/{token}   the item's files and an upload form: that one item only
    POST /up/{token}   upload through it; the chat that asked is told what arrived

The link's token is the key (storage/services/upload_links.py: only its hash stored, 24 h,
revoked by a newer link for the item or /web off): no session is needed, and the page
shows and takes nothing but the item's evidence. A link that does not work (unknown,
expired, revoked, its person no longer the unit's contact) gives one clear page, and its
body is not even read.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.contact_pages import (
    Console,
    Report,
    contact_report,
    files_json,
    item_views,
    take_evidence,
    wants_json,
)
from bot.console.contact_uploads import Outcome, receive
from common.i18n import Translator
from common.localtime import fmt_datetime
from common.sizes import fmt_size
from storage.db import transaction
from storage.db.models import Person, UploadLink
from storage.services.checklist import ItemInfo
from storage.services.outbox import enqueue_many
from storage.services.submissions import answer_states
from storage.services.upload_links import live_upload_link


class UploadLinkRoutes:
    def __init__(self, console: Console) -> None:
        self.console = console

    def register(self, app: web.Application) -> None:
        app.router.add_get("/up/{token}", self.link_page)
        app.router.add_post("/up/{token}", self.link_upload)

    async def _link(
        self, request: web.Request, session: AsyncSession
    ) -> tuple[UploadLink, Report, ItemInfo] | None:
        """The live link of the URL's token, its report and item; None when it does not
        work (unknown, expired, revoked, or its person no longer the unit's contact)."""
        link = await live_upload_link(
            session, request.match_info["token"], now=self.console.clock.now()
        )
        if link is None:
            return None
        report = await contact_report(session, self.console, link.person_id, link.assignment_id)
        item = report.checklist.by_id(link.item_id) if report else None
        if report is None or item is None:
            return None
        return link, report, item

    def _invalid(self, request: web.Request, locale: str) -> web.Response:
        return self.console.page(
            request,
            "message.html",
            locale,
            410,
            title="contact.link_invalid_title",
            text="contact.link_invalid",
        )

    async def _link_response(
        self,
        request: web.Request,
        session: AsyncSession,
        link: UploadLink,
        report: Report,
        item: ItemInfo,
        locale: str,
        outcomes: Sequence[Outcome] = (),
    ) -> web.Response:
        tr = self.console.catalog.for_locale(locale)
        views = await item_views(session, report, tr, only=item.id)
        view = views[0]
        view.outcomes = tuple(outcomes)
        role = report.role
        return self.console.page(
            request,
            "contact_upload.html",
            locale,
            role=role,
            view=view,
            until=fmt_datetime(link.expires_at, role.timezone),
            max_size=fmt_size(self.console.max_evidence_bytes, locale),
            size=lambda n: fmt_size(n, locale),
            upload_action=f"{self.console.root}/up/{request.match_info['token']}",
            csrf="",
        )

    async def _person_locale(
        self, request: web.Request, session: AsyncSession, person_id: int
    ) -> str:
        return self.console.locale_of(request, await session.get(Person, person_id))

    async def link_page(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            found = await self._link(request, session)
            if found is not None:
                link, report, item = found
                locale = await self._person_locale(request, session, link.person_id)
                return await self._link_response(request, session, link, report, item, locale)
        return self._invalid(request, self.console.locale_of(request))

    async def link_upload(self, request: web.Request) -> web.StreamResponse:
        store = self.console.evidence
        async with transaction(self.console.sessions) as session:
            found = await self._link(request, session)
        if found is None or store is None:
            return self._invalid(request, self.console.locale_of(request))  # nothing read
        received = await receive(request, store, self.console.max_evidence_bytes)
        try:
            async with transaction(self.console.sessions) as session:
                found = await self._link(request, session)  # still live once the body is in
                if found is None:
                    return self._invalid(request, self.console.locale_of(request))
                link, report, item = found
                locale = await self._person_locale(request, session, link.person_id)
                tr = self.console.catalog.for_locale(locale)
                outcomes = await take_evidence(
                    session, self.console, link.person_id, report, item, received, tr
                )
                await self._confirm_in_chat(session, link, report, item, outcomes, tr)
                if wants_json(request):
                    return files_json(outcomes)
                return await self._link_response(
                    request, session, link, report, item, locale, outcomes
                )
        finally:
            received.discard(store)

    async def _confirm_in_chat(
        self,
        session: AsyncSession,
        link: UploadLink,
        report: Report,
        item: ItemInfo,
        outcomes: Sequence[Outcome],
        tr: Translator,
    ) -> None:
        """What arrived, told in the chat that asked for the link (through the outbox)."""
        kept = [o for o in outcomes if o.ok]
        if not kept:
            return
        states = await answer_states(session, report.submission.id)
        state = states.get(item.id)
        files = "\n".join(f"• {o.name} ({fmt_size(o.size, tr.locale)})" for o in kept)
        now = self.console.clock.now()
        await enqueue_many(
            session,
            [
                {
                    "dedupe_key": f"upload:{link.id}:{report.submission.version}",
                    "kind": "alert",
                    "chat_account_id": link.chat_account_id,
                    "person_id": link.person_id,
                    "campaign_id": report.role.campaign_id,
                    "template": "contact.upload_received",
                    "params": {
                        "code": item.code,
                        "files": files,
                        "count": state.evidence_count if state else len(kept),
                    },
                    "not_before": now,
                    "created_at": now,
                }
            ],
        )

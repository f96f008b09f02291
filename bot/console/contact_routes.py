"""The unit contact's checklist on the web (the upload links' page: upload_link_routes.py).

    GET  /r/{assignment}                   the report to fill: every item with its form
    POST /r/{assignment}/i/{item}          save one item's answer (CSRF token checked)
    POST /r/{assignment}/i/{item}/note     save the item's explanation (giải trình)
    POST /r/{assignment}/i/{item}/files    upload evidence files (multipart, several)
    GET  /r/{assignment}/review            review before submitting
    POST /r/{assignment}/submit            submit (the version seen is checked)
    GET  /contact-static/{name}            the page's script and style

Only the unit's own contacts open /r/...: anyone else (a leader of the unit's team too,
who reviews but does not answer) gets the console's 404 and an `access.denied` entry in
the audit log. Answers are read with the chat's `parse_answer` (storage/rules/form_answers)
and written with the chat's services (record_answer, record_note, add_evidence, submit),
so the web refuses exactly what the chat refuses, with the same words.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.contact_pages import (
    Console,
    ItemView,
    Report,
    Viewer,
    contact_report,
    files_json,
    item_views,
    redirect,
    take_evidence,
    wants_json,
)
from bot.console.contact_uploads import Outcome, Received, receive
from bot.console.upload_link_routes import UploadLinkRoutes
from common.localtime import fmt_datetime
from common.sizes import fmt_size
from handlers.console_access import deny_web
from handlers.reopened_evidence import takes_evidence
from storage.db import transaction
from storage.db.models import ChatAccount
from storage.rules.answers import AnswerError, render_error
from storage.rules.form_answers import read_form
from storage.rules.progress import AnswerState, compute_progress
from storage.rules.scoring import fmt_points
from storage.services.checklist import ItemInfo
from storage.services.outbox import enqueue_many
from storage.services.submissions import (
    EditRefusal,
    answer_states,
    edit_refusal,
    record_answer,
    record_note,
    submit,
)

HERE = Path(__file__).parent
STATIC_FILES = {"contact.js": "text/javascript", "contact.css": "text/css"}
NOTE_MAX_LENGTH = 1000  # as in chat (handlers/evidence.py)


def _int(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


class ContactRoutes:
    def __init__(self, console: Console) -> None:
        self.console = console

    def register(self, app: web.Application) -> None:
        add_get, add_post = app.router.add_get, app.router.add_post
        add_get("/r/{assignment_id:[0-9]+}", self.report_page)
        add_post("/r/{assignment_id:[0-9]+}/i/{item_id:[0-9]+}", self.save)
        add_post("/r/{assignment_id:[0-9]+}/i/{item_id:[0-9]+}/note", self.note)
        add_post("/r/{assignment_id:[0-9]+}/i/{item_id:[0-9]+}/files", self.upload)
        add_get("/r/{assignment_id:[0-9]+}/review", self.review_page)
        add_post("/r/{assignment_id:[0-9]+}/submit", self.submit)
        add_get("/contact-static/{name}", self.static)
        UploadLinkRoutes(self.console).register(app)

    @property
    def limit(self) -> int:
        return self.console.max_evidence_bytes

    # -- who may -------------------------------------------------------------------------

    async def _open(
        self, request: web.Request, session: AsyncSession, action: str
    ) -> tuple[Viewer, Report | None]:
        """The signed-in person and, if they are its contact, the unit's report; else None
        after the refusal is written to the audit log (the caller answers 404)."""
        viewer = await self.console.viewer(request, session)
        if viewer is None:
            raise web.HTTPSeeOther(f"{self.console.root}/")
        assignment_id = _int(request, "assignment_id")
        report = await contact_report(session, self.console, viewer.person.id, assignment_id)
        if report is None:
            await deny_web(
                session,
                now=self.console.clock.now(),
                person_id=viewer.person.id,
                action=action,
                subject=f"assignment:{assignment_id}",
            )
        return viewer, report

    @staticmethod
    def _csrf_ok(viewer: Viewer, given: object) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given, viewer.web_session.csrf_token)

    async def _form(self, request: web.Request, viewer: Viewer) -> MultiDictProxy[Any]:
        form = await request.post()
        if not self._csrf_ok(viewer, form.get("csrf")):
            raise web.HTTPForbidden(text="bad form")
        return form

    # -- the report page -----------------------------------------------------------------

    def _report_response(
        self,
        request: web.Request,
        viewer: Viewer,
        report: Report,
        views: list[ItemView],
        states: dict[int, AnswerState],
        status: int = 200,
    ) -> web.Response:
        progress = compute_progress(report.checklist.items, states)
        role = report.role
        return self.console.page(
            request,
            "contact_report.html",
            viewer.locale,
            status,
            csrf=viewer.web_session.csrf_token,
            role=role,
            assignment_id=role.assignment_id,
            report_status=str(report.submission.status),
            deadline=fmt_datetime(role.unit_deadline or role.campaign_deadline, role.timezone),
            progress=progress,
            views=views,
            sections=report.checklist.sections,
            max_size=fmt_size(self.limit, viewer.locale),
            size=lambda n: fmt_size(n, viewer.locale),
        )

    async def report_page(self, request: web.Request) -> web.Response:
        saved = request.query.get("saved", "")
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_report")
            if report is not None:
                tr = self.console.catalog.for_locale(viewer.locale)
                views = await item_views(session, report, tr)
                for view in views:
                    if saved == str(view.item.id):
                        view.saved = tr(
                            "contact.saved",
                            code=view.item.code,
                            value=view.shown or tr("answers.value.none"),
                        )
                    if saved == f"n{view.item.id}":
                        view.saved = tr("contact.note_saved", code=view.item.code)
                states = await answer_states(session, report.submission.id)
                return self._report_response(request, viewer, report, views, states)
        raise web.HTTPNotFound()

    async def save(self, request: web.Request) -> web.Response:
        item_id = _int(request, "item_id")
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_answer")
            item = report.checklist.by_id(item_id) if report else None
            if report is not None and item is not None:
                form = await self._form(request, viewer)
                values = [str(v) for v in form.getall("value", [])]
                return await self._save(request, session, viewer, report, item, values)
        raise web.HTTPNotFound()

    async def _save(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: Viewer,
        report: Report,
        item: ItemInfo,
        values: list[str],
    ) -> web.Response:
        tr = self.console.catalog.for_locale(viewer.locale)
        refusal = await edit_refusal(session, report.submission, item.id)
        parsed = read_form(item, values)
        if refusal is not None or isinstance(parsed, AnswerError):
            if refusal == EditRefusal.NOT_REOPENED:
                error = tr("contact.not_reopened")
            elif refusal is not None:
                error = tr(f"contact.locked_{report.submission.status}")
            else:
                assert isinstance(parsed, AnswerError)
                error = render_error(parsed, tr)
            return await self._again(request, session, viewer, report, item, values, error)
        await record_answer(
            session,
            report.submission,
            item,
            parsed.value,
            person_id=viewer.person.id,
            now=self.console.clock.now(),
        )
        return redirect(self._item_url(report, f"?saved={item.id}", item.id))

    async def _again(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: Viewer,
        report: Report,
        item: ItemInfo,
        values: list[str],
        error: str,
        *,
        outcomes: Sequence[Outcome] = (),
        status: int = 422,
    ) -> web.Response:
        """The report again, the item's error shown and what was typed kept."""
        tr = self.console.catalog.for_locale(viewer.locale)
        views = await item_views(session, report, tr)
        for view in views:
            if view.item.id == item.id:
                view.error = error
                view.outcomes = tuple(outcomes)
                if values:
                    view.typed = values
        states = await answer_states(session, report.submission.id)
        return self._report_response(request, viewer, report, views, states, status)

    def _item_url(self, report: Report, query: str, item_id: int) -> str:
        return f"{self.console.root}/r/{report.role.assignment_id}{query}#item-{item_id}"

    async def note(self, request: web.Request) -> web.Response:
        item_id = _int(request, "item_id")
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_note")
            item = report.checklist.by_id(item_id) if report else None
            if report is not None and item is not None:
                form = await self._form(request, viewer)
                note = str(form.get("note", "")).strip()
                tr = self.console.catalog.for_locale(viewer.locale)
                refused = await edit_refusal(session, report.submission, item.id)
                takes = await takes_evidence(session, report.submission, item)
                if refused is not None or not takes:
                    error = tr("contact.link_locked")
                elif not note or len(note) > NOTE_MAX_LENGTH:
                    error = tr("evidence.bad_note", max=NOTE_MAX_LENGTH, length=len(note))
                else:
                    await record_note(
                        session,
                        report.submission,
                        item,
                        note,
                        person_id=viewer.person.id,
                        now=self.console.clock.now(),
                    )
                    return redirect(self._item_url(report, f"?saved=n{item.id}", item.id))
                return await self._again(request, session, viewer, report, item, [], error)
        raise web.HTTPNotFound()

    # -- uploads -------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """Files for one item from the signed-in contact: access first (nothing is read
        for someone else's unit), then the body, then the files kept in a second short
        transaction."""
        item_id = _int(request, "item_id")
        store = self.console.evidence
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_upload")
            allowed = report is not None and report.checklist.by_id(item_id) is not None
        if not allowed or store is None:
            raise web.HTTPNotFound()
        received = await receive(request, store, self.limit)
        try:
            given = request.headers.get("X-CSRF-Token") or received.fields.get("csrf")
            if not self._csrf_ok(viewer, given):
                raise web.HTTPForbidden(text="bad form")
            async with transaction(self.console.sessions) as session:
                viewer, report = await self._open(request, session, "contact_upload")
                item = report.checklist.by_id(item_id) if report else None
                if report is not None and item is not None:
                    return await self._keep(request, session, viewer, report, item, received)
        finally:
            received.discard(store)
        raise web.HTTPNotFound()  # no longer theirs: refused (and audited) above

    async def _keep(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: Viewer,
        report: Report,
        item: ItemInfo,
        received: Received,
    ) -> web.Response:
        tr = self.console.catalog.for_locale(viewer.locale)
        outcomes = await take_evidence(
            session, self.console, viewer.person.id, report, item, received, tr
        )
        if wants_json(request):
            return files_json(outcomes)
        return await self._again(
            request, session, viewer, report, item, [], "", outcomes=outcomes, status=200
        )

    # -- review and submit ---------------------------------------------------------------

    async def review_page(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_review")
            if report is not None:
                return await self._review(request, session, viewer, report)
        raise web.HTTPNotFound()

    async def _review(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: Viewer,
        report: Report,
        *,
        notice: str = "",
        status: int = 200,
    ) -> web.Response:
        tr = self.console.catalog.for_locale(viewer.locale)
        states = await answer_states(session, report.submission.id)
        progress = compute_progress(report.checklist.items, states)
        codes = {item.id: item.code for item in report.checklist.items}
        return self.console.page(
            request,
            "contact_review.html",
            viewer.locale,
            status,
            csrf=viewer.web_session.csrf_token,
            role=report.role,
            assignment_id=report.role.assignment_id,
            report_status=str(report.submission.status),
            version=report.submission.version,
            progress=progress,
            score=fmt_points(progress.self_score, tr),
            max_score=fmt_points(progress.max_score, tr),
            missing_required=[(i, codes[i]) for i in progress.missing_required],
            missing_evidence=[(i, codes[i]) for i in progress.missing_evidence],
            notice=notice,
        )

    async def submit(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            viewer, report = await self._open(request, session, "contact_submit")
            if report is not None:
                form = await self._form(request, viewer)
                return await self._submit(
                    request, session, viewer, report, str(form.get("version", ""))
                )
        raise web.HTTPNotFound()

    async def _submit(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: Viewer,
        report: Report,
        version: str,
    ) -> web.Response:
        tr = self.console.catalog.for_locale(viewer.locale)
        submission, role = report.submission, report.role
        if version != str(submission.version):
            # A colleague of the unit changed the report since this page was shown: the
            # chat's confirmation carries the version for the same reason.
            return await self._review(
                request, session, viewer, report, notice=tr("contact.changed"), status=409
            )
        now = self.console.clock.now()
        result = await submit(
            session, submission, report.checklist, person_id=viewer.person.id, now=now
        )
        if not result.ok:
            return await self._review(request, session, viewer, report, status=409)
        params = {
            "unit": role.unit_name or "",
            "time": fmt_datetime(now, role.timezone),
            # Floats: the outbox writes them in each reader's number format.
            "score": float(result.progress.self_score),
            "max": float(result.progress.max_score),
        }
        await _tell_chats(
            session,
            viewer.person.id,
            f"web-submitted:{submission.id}:{submission.version}",
            "contact.submitted_web",
            params,
            now,
            campaign_id=role.campaign_id,
        )
        key = "contact.submitted_late" if result.late else "contact.submitted"
        return await self._review(request, session, viewer, report, notice=tr(key, **params))

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a fixed list: never a path from the request
            raise web.HTTPNotFound()
        return web.FileResponse(
            HERE / "static" / name, headers={"Content-Type": STATIC_FILES[name]}
        )


async def _tell_chats(
    session: AsyncSession,
    person_id: int,
    key: str,
    template: str,
    params: dict[str, Any],
    now: Any,
    *,
    campaign_id: int,
) -> None:
    """A message to each of the person's reachable chats, through the outbox."""
    accounts = await session.scalars(
        select(ChatAccount).where(
            ChatAccount.person_id == person_id, ChatAccount.unreachable_at.is_(None)
        )
    )
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": f"{key}:{a.id}",
                "kind": "alert",
                "chat_account_id": a.id,
                "person_id": person_id,
                "campaign_id": campaign_id,
                "template": template,
                "params": params,
                "not_before": now,
                "created_at": now,
            }
            for a in accounts
        ],
    )

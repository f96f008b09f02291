"""The unit contact's checklist on the web, and the upload page of Zalo's links.

    GET  /r/{assignment}                   the report to fill: every item with its form
    POST /r/{assignment}/i/{item}          save one item's answer (CSRF token checked)
    POST /r/{assignment}/i/{item}/note     save the item's explanation (giải trình)
    POST /r/{assignment}/i/{item}/files    upload evidence files (multipart, several)
    GET  /r/{assignment}/review            review before submitting
    POST /r/{assignment}/submit            submit (the version seen is checked)
    GET  /up/{token}                       a personal upload link's page: one item only
    POST /up/{token}                       upload through it; the chat is told what arrived
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.console.contact_uploads import Outcome, Received, receive, take_files
from common.clock import Clock
from common.i18n import Catalog, Translator
from common.localtime import fmt_datetime
from common.sizes import fmt_size
from handlers.console_access import deny_web
from handlers.reopened_evidence import takes_evidence
from storage.db import transaction
from storage.db.models import (
    ChatAccount,
    EvidenceFile,
    Person,
    Role,
    Submission,
    SubmissionStatus,
    UploadLink,
    WebSession,
)
from storage.rules.answers import AnswerError, format_number, format_value, render_error
from storage.rules.form_answers import option_number, read_form
from storage.rules.progress import AnswerState, compute_progress
from storage.rules.scoring import fmt_points
from storage.services.answers_read import evidence_files
from storage.services.checklist import Checklist, ChecklistCache, ItemInfo
from storage.services.evidence import EvidenceStore
from storage.services.outbox import enqueue_many
from storage.services.people import PersonRole, roles_of
from storage.services.review import unresolved_flags
from storage.services.submissions import (
    EditRefusal,
    answer_states,
    edit_refusal,
    record_answer,
    record_note,
    submission_for,
    submit,
)
from storage.services.upload_links import live_upload_link


class Viewer(Protocol):
    """The signed-in person of a request (bot.console.app.Viewer)."""

    @property
    def web_session(self) -> WebSession: ...
    @property
    def person(self) -> Person: ...
    @property
    def locale(self) -> str: ...


class Console(Protocol):
    """What these routes use of bot.console.app.Console (which registers them)."""

    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    root: str
    evidence: EvidenceStore | None
    max_evidence_bytes: int
    checklists: ChecklistCache

    async def viewer(self, request: web.Request, session: AsyncSession) -> Viewer | None: ...
    def locale_of(self, request: web.Request, person: Person | None = None) -> str: ...
    def page(
        self, request: web.Request, template: str, locale: str, status: int = 200, **context: Any
    ) -> web.Response: ...


HERE = Path(__file__).parent
STATIC_FILES = {"contact.js": "text/javascript", "contact.css": "text/css"}
NOTE_MAX_LENGTH = 1000  # as in chat (handlers/evidence.py)


def own_reports(linked: Sequence[PersonRole]) -> list[PersonRole]:
    """The reports a person fills in: their unit-contact roles (for the home page)."""
    return [r for r in linked if r.role == Role.UNIT_CONTACT and r.assignment_id]


@dataclass
class Report:
    """One unit's report as its contact works on it, in one request."""

    role: PersonRole
    submission: Submission
    checklist: Checklist

    @property
    def folder(self) -> tuple[str, ...]:  # where its files go, as in chat
        return (self.role.campaign_code, self.role.unit_code or "")


@dataclass
class ItemView:
    """What the page shows of one item and its form."""

    item: ItemInfo
    state: AnswerState | None
    shown: str  # the answer as people read it, "" when none
    files: list[EvidenceFile]
    editable: bool
    evidence: bool  # takes files (and an explanation when they are required)
    typed: list[str]  # what goes back into the form's fields
    error: str = ""
    saved: str = ""
    comments: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _int(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


async def _contact_report(
    session: AsyncSession, console: Console, person_id: int, assignment_id: int
) -> Report | None:
    role = next(
        (
            r
            for r in own_reports(await roles_of(session, person_id))
            if r.assignment_id == assignment_id
        ),
        None,
    )
    if role is None:
        return None
    submission = role.submission or await submission_for(session, assignment_id)
    checklist = await console.checklists.get(session, role.campaign_id, role.campaign_version)
    return Report(role, submission, checklist)


def _typed(item: ItemInfo, state: AnswerState | None, tr: Translator) -> list[str]:
    """The saved answer as the form's field values."""
    value = state.value if state else None
    if value is None:
        return []
    if item.type == "yesno":
        return ["1" if value else "2"]
    if item.type == "choice" and value in item.options:
        return [option_number(item.options.index(value))]
    if item.type == "multi" and isinstance(value, list):
        return [option_number(item.options.index(v)) for v in value if v in item.options]
    if item.type in ("number", "percent") and isinstance(value, int | float):
        return [format_number(value, tr)]
    if item.type == "date":
        return [format_value(item, value, tr)]
    return [str(value)]


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
        add_get("/up/{token}", self.link_page)
        add_post("/up/{token}", self.link_upload)
        add_get("/contact-static/{name}", self.static)

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
        report = await _contact_report(session, self.console, viewer.person.id, assignment_id)
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

    async def _views(
        self, session: AsyncSession, report: Report, tr: Translator, *, only: int | None = None
    ) -> list[ItemView]:
        submission = report.submission
        states = await answer_states(session, submission.id)
        files: dict[int, list[EvidenceFile]] = {}
        for row in await evidence_files(session, submission.id):
            files.setdefault(row.item_id, []).append(row)
        comments: dict[int, list[str]] = {}
        if submission.status == SubmissionStatus.RETURNED:
            for flag in await unresolved_flags(session, submission.id):
                comments.setdefault(flag.item_id, []).append(flag.comment)
        views = []
        for item in report.checklist.items:
            if only is not None and item.id != only:
                continue
            state = states.get(item.id)
            views.append(
                ItemView(
                    item=item,
                    state=state,
                    shown=format_value(item, state.value, tr)
                    if state and state.value is not None
                    else "",
                    files=files.get(item.id, []),
                    editable=await edit_refusal(session, submission, item.id) is None,
                    evidence=await takes_evidence(session, submission, item),
                    typed=_typed(item, state, tr),
                    comments=tuple(comments.get(item.id, ())),
                )
            )
        return views

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
                views = await self._views(session, report, tr)
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
        return _redirect(self._item_url(report, f"?saved={item.id}", item.id))

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
        views = await self._views(session, report, tr)
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
                    return _redirect(self._item_url(report, f"?saved=n{item.id}", item.id))
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
        outcomes = await self._take(session, viewer.person.id, report, item, received, tr)
        if _wants_json(request):
            return web.json_response(
                {"files": [{"name": o.name, "ok": o.ok, "text": o.text} for o in outcomes]}
            )
        return await self._again(
            request, session, viewer, report, item, [], "", outcomes=outcomes, status=200
        )

    async def _take(
        self,
        session: AsyncSession,
        person_id: int,
        report: Report,
        item: ItemInfo,
        received: Received,
        tr: Translator,
    ) -> list[Outcome]:
        assert self.console.evidence is not None
        if await edit_refusal(session, report.submission, item.id) is not None or not (
            await takes_evidence(session, report.submission, item)
        ):
            return [Outcome(f.name, False, tr("contact.link_locked")) for f in received.files]
        if not received.files:
            return [Outcome("", False, tr("contact.no_file_chosen"))]
        return await take_files(
            session,
            self.console.evidence,
            tr,
            files=received.files,
            submission=report.submission,
            item=item,
            folder=(*report.folder, item.code),
            limit=self.limit,
            person_id=person_id,
            now=self.console.clock.now(),
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

    # -- the personal upload link (Zalo) -------------------------------------------------

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
        report = await _contact_report(session, self.console, link.person_id, link.assignment_id)
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
        views = await self._views(session, report, tr, only=item.id)
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
            max_size=fmt_size(self.limit, locale),
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
        received = await receive(request, store, self.limit)
        try:
            async with transaction(self.console.sessions) as session:
                found = await self._link(request, session)  # still live once the body is in
                if found is None:
                    return self._invalid(request, self.console.locale_of(request))
                link, report, item = found
                locale = await self._person_locale(request, session, link.person_id)
                tr = self.console.catalog.for_locale(locale)
                outcomes = await self._take(session, link.person_id, report, item, received, tr)
                await self._confirm_in_chat(session, link, report, item, outcomes, tr)
                if _wants_json(request):
                    return web.json_response(
                        {"files": [{"name": o.name, "ok": o.ok, "text": o.text} for o in outcomes]}
                    )
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

    async def static(self, request: web.Request) -> web.FileResponse:
        name = request.match_info["name"]
        if name not in STATIC_FILES:  # a fixed list: never a path from the request
            raise web.HTTPNotFound()
        return web.FileResponse(
            HERE / "static" / name, headers={"Content-Type": STATIC_FILES[name]}
        )


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


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

"""A unit's conclusion on the desk console, for the leaders of its team (and admins).

    GET  /u/{id}/conclusion        the conclusion: draft or issued, strengths, shortcomings
                                   with the fix asked and the due date
    GET  /u/{id}/conclusion.docx   the notice as a Word document (what `cchc-bot conclusion`
                                   writes; once issued, the document the unit was sent)
    POST /u/{id}/conclusion/issue  issue it: the same service as the chat's "Ban hành", so
                                   the unit's contacts get the document once (dedupe keys)

The conclusion itself is written in chat (handlers/conclusion.py). Who may: Scope.leads,
as the chat's conclusion steps; anyone else gets the console's 404 and an audit entry.
The unit contact's remediation pages are bot/console/fix_routes.py, registered from here.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.fix_routes import FixRoutes
from bot.console.host import ConsoleHost, SignedIn
from common.localtime import fmt_date
from handlers.conclusion import DOCX_MIME
from handlers.console_access import deny_web, person_scope
from storage.db import transaction
from storage.db.models import Assignment, Conclusion
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.assignments import assignment_by_id
from storage.services.conclusion_notice import (
    issue_conclusion,
    notice_file_name,
    write_unit_notice,
)
from storage.services.conclusions import ConclusionError, conclusion_of

# A redirect's message: (catalog key, is it an error); nothing else from the query is shown.
MESSAGES = {
    "issued": ("desk_fix.issued", False),
    "issued_again": ("desk_fix.issued_again", False),
    "empty": ("conclusion.refused.empty", True),
    "none": ("desk_fix.no_conclusion", True),
}


class ConclusionHost(ConsoleHost, Protocol):
    notice: NoticeSettings
    max_evidence_bytes: int


class ConclusionRoutes:
    def __init__(self, console: ConclusionHost) -> None:
        self.console = console

    def register(self, app: web.Application) -> None:
        app.router.add_get("/u/{assignment_id:[0-9]+}/conclusion", self.page)
        app.router.add_get("/u/{assignment_id:[0-9]+}/conclusion.docx", self.download)
        app.router.add_post("/u/{assignment_id:[0-9]+}/conclusion/issue", self.issue)
        FixRoutes(self.console).register(app)

    async def _leader(
        self, request: web.Request, session: AsyncSession, action: str
    ) -> tuple[SignedIn, Assignment | None]:
        """The signed-in person and the unit if they lead its team; else None after the
        refusal is written to the audit log (the caller answers 404 after the commit)."""
        console = self.console
        viewer = await console.viewer(request, session)
        if viewer is None:
            raise web.HTTPSeeOther(f"{console.root}/")
        assignment_id = int(request.match_info["assignment_id"])
        scope, _ = await person_scope(session, viewer.person, console.admin_ids)
        assignment = await assignment_by_id(session, assignment_id)
        if assignment is None or not scope.leads(assignment):
            await deny_web(
                session,
                now=console.clock.now(),
                person_id=viewer.person.id,
                action=action,
                subject=f"assignment:{assignment_id}",
            )
            return viewer, None
        return viewer, assignment

    async def page(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            viewer, assignment = await self._leader(request, session, "conclusion")
            context = await self._context(session, assignment) if assignment else None
        if context is None:
            raise web.HTTPNotFound()
        key, error = MESSAGES.get(request.query.get("msg", ""), ("", False))
        return self.console.page(
            request,
            "conclusion.html",
            viewer.locale,
            csrf=viewer.web_session.csrf_token,
            message=key,
            message_error=error,
            **context,
        )

    async def _context(self, session: AsyncSession, assignment: Assignment) -> dict[str, Any]:
        conclusion = await conclusion_of(session, assignment.id)
        tz = assignment.campaign.timezone
        issued = conclusion is not None and conclusion.issued_at is not None
        return {
            "assignment_id": assignment.id,
            "unit_name": assignment.unit.name,
            "campaign": assignment.campaign,
            "conclusion": conclusion,
            "issued": issued,
            "issued_on": fmt_date(conclusion.issued_at, tz) if conclusion and issued else "",
            "shortcomings": [
                {"s": s, "due": fmt_date(s.due_on)}
                for s in (conclusion.shortcomings if conclusion else [])
            ],
        }

    async def download(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            _, assignment = await self._leader(request, session, "conclusion.docx")
            conclusion = await conclusion_of(session, assignment.id) if assignment else None
            body = None
            if assignment is not None and conclusion is not None:
                kept = Path(conclusion.document_path) if conclusion.document_path else None
                if conclusion.issued_at is not None and kept is not None and kept.is_file():
                    body = await asyncio.to_thread(kept.read_bytes)  # what the unit was sent
                else:
                    body = await self._written(session, assignment, conclusion)
        if body is None or assignment is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=body,
            headers={
                "Content-Type": DOCX_MIME,
                "Content-Disposition": "attachment; filename*=UTF-8''"
                + quote(notice_file_name(assignment)),
                "Cache-Control": "private, no-store",
            },
        )

    async def _written(
        self, session: AsyncSession, assignment: Assignment, conclusion: Conclusion
    ) -> bytes:
        """The notice as the CLI writes it, in a private temporary folder."""
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="cchc-notice-"))
        try:
            target = folder / notice_file_name(assignment)
            await write_unit_notice(session, assignment, conclusion, self.console.notice, target)
            return await asyncio.to_thread(target.read_bytes)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def issue(self, request: web.Request) -> web.StreamResponse:
        console = self.console
        async with transaction(console.sessions) as session:
            viewer, assignment = await self._leader(request, session, "conclusion.issue")
            if assignment is not None:
                await console.check_csrf(request, viewer)
            outcome = await self._issue(session, viewer, assignment) if assignment else None
        if outcome is None or assignment is None:
            raise web.HTTPNotFound()
        raise web.HTTPSeeOther(f"{console.root}/u/{assignment.id}/conclusion?msg={outcome}")

    async def _issue(
        self, session: AsyncSession, viewer: SignedIn, assignment: Assignment
    ) -> str | None:
        if self.console.evidence is None:  # where issued notices are kept: no store, no issue
            return None
        conclusion = await conclusion_of(session, assignment.id)
        if conclusion is None:
            return "none"
        already = conclusion.issued_at is not None
        try:
            await issue_conclusion(
                session,
                assignment,
                conclusion,
                self.console.notice,
                self.console.evidence.root,
                person_id=viewer.person.id,
                now=self.console.clock.now(),
            )
        except ConclusionError as error:
            return error.reason.value
        return "issued_again" if already else "issued"

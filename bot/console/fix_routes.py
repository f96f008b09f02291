"""The unit contact's remediation tasks on the web, as /khacphuc in chat.

    GET  /r/{id}/khacphuc                 each shortcoming: the fix asked, due date, status
    POST /r/{id}/khacphuc/{task}/report   what was done (text)
    POST /r/{id}/khacphuc/{task}/files    evidence of the fix (multipart, several files)
    POST /r/{id}/khacphuc/{task}/done     mark it done: the team's leaders are told

The same services as the chat (storage/services/remediation.py): the same refusals and the
same outbox rows to the team. Files go through the report's upload checks
(contact_uploads.py: type, size, content, sha256) into the chat's folder for fixes. Only
the unit's own contacts open these pages; anyone else gets 404 and an audit entry.
"""

from __future__ import annotations

import hmac
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.contact_pages import own_reports
from bot.console.contact_uploads import Received, mime_type_of, receive, refusal_of
from bot.console.host import ConsoleHost, SignedIn
from common.i18n import Translator
from common.localtime import fmt_date
from common.sizes import fmt_size
from handlers.console_access import deny_web
from storage.db import transaction
from storage.db.models import FixStatus
from storage.services.evidence import RefusedFile, extension, safe_name
from storage.services.people import PersonRole, roles_of
from storage.services.remediation import (
    REPORT_LIMIT,
    FixError,
    Task,
    add_file,
    files_of,
    mark_done,
    save_report,
    task_by_id,
    tasks_of,
)

BASE = "/r/{assignment_id:[0-9]+}/khacphuc"


class FixHost(ConsoleHost, Protocol):
    max_evidence_bytes: int


class FixRoutes:
    def __init__(self, console: FixHost) -> None:
        self.console = console

    def register(self, app: web.Application) -> None:
        app.router.add_get(BASE, self.page)
        app.router.add_post(BASE + "/{task_id:[0-9]+}/report", self.report)
        app.router.add_post(BASE + "/{task_id:[0-9]+}/files", self.files)
        app.router.add_post(BASE + "/{task_id:[0-9]+}/done", self.done)

    async def _contact(
        self, request: web.Request, session: AsyncSession, action: str
    ) -> tuple[SignedIn, PersonRole | None]:
        console = self.console
        viewer = await console.viewer(request, session)
        if viewer is None:
            raise web.HTTPSeeOther(f"{console.root}/")
        assignment_id = int(request.match_info["assignment_id"])
        own = own_reports(await roles_of(session, viewer.person.id))
        role = next((r for r in own if r.assignment_id == assignment_id), None)
        if role is None:
            await deny_web(
                session,
                now=console.clock.now(),
                person_id=viewer.person.id,
                action=action,
                subject=f"assignment:{assignment_id}",
            )
        return viewer, role

    async def _task(self, request: web.Request, session: AsyncSession, role: PersonRole) -> Task:
        """The task in the URL, if it is one of this unit's; else the console's 404."""
        task = await task_by_id(session, int(request.match_info["task_id"]))
        if task is None or task.assignment.id != role.assignment_id:
            raise web.HTTPNotFound()
        return task

    async def _render(
        self,
        request: web.Request,
        session: AsyncSession,
        viewer: SignedIn,
        role: PersonRole,
        *,
        notice: str = "",
        error: bool = False,
        outcomes: list[tuple[bool, str]] | None = None,
        typed: dict[int, str] | None = None,
    ) -> web.Response:
        tasks = await tasks_of(session, role.assignment_id or 0)
        rows = [
            {"s": s, "due": fmt_date(s.due_on), "files": await files_of(session, s.id)}
            for s in tasks
        ]
        context: dict[str, Any] = {
            "role": role,
            "assignment_id": role.assignment_id,
            "tasks": rows,
            "fixed": sum(1 for s in tasks if s.status == FixStatus.FIXED),
            "total": len(tasks),
            "notice": notice,
            "error": error,
            "outcomes": outcomes or [],
            "typed": typed or {},  # a refused report, shown again: nothing typed is lost
            "limit": REPORT_LIMIT,
            "csrf": viewer.web_session.csrf_token,
        }
        return self.console.page(
            request, "fix_tasks.html", viewer.locale, 400 if error else 200, **context
        )

    async def page(self, request: web.Request) -> web.Response:
        async with transaction(self.console.sessions) as session:
            viewer, role = await self._contact(request, session, "remediation")
            if role is not None:
                return await self._render(request, session, viewer, role)
        raise web.HTTPNotFound()

    async def report(self, request: web.Request) -> web.Response:
        console = self.console
        async with transaction(console.sessions) as session:
            viewer, role = await self._contact(request, session, "remediation.report")
            if role is not None:
                form = await console.check_csrf(request, viewer)
                task = await self._task(request, session, role)
                tr = console.catalog.for_locale(viewer.locale)
                text = form.get("report", "").strip()
                if not text or len(text) > REPORT_LIMIT:
                    notice = tr("remediation.bad_report", max=REPORT_LIMIT, length=len(text))
                    typed = {task.shortcoming.id: form.get("report", "")}
                    return await self._render(
                        request, session, viewer, role, notice=notice, error=True, typed=typed
                    )
                try:
                    await save_report(
                        session,
                        task.shortcoming,
                        text,
                        person_id=viewer.person.id,
                        now=console.clock.now(),
                    )
                except FixError as refused:
                    notice = tr(f"remediation.refused.{refused.reason.value}")
                    return await self._render(
                        request, session, viewer, role, notice=notice, error=True
                    )
                notice = tr("desk_fix.report_saved", n=task.shortcoming.position)
                return await self._render(request, session, viewer, role, notice=notice)
        raise web.HTTPNotFound()

    async def done(self, request: web.Request) -> web.Response:
        console = self.console
        async with transaction(console.sessions) as session:
            viewer, role = await self._contact(request, session, "remediation.done")
            if role is not None:
                await console.check_csrf(request, viewer)
                task = await self._task(request, session, role)
                tr = console.catalog.for_locale(viewer.locale)
                try:
                    await mark_done(
                        session, task, person_id=viewer.person.id, now=console.clock.now()
                    )
                except FixError as refused:
                    notice = tr(f"remediation.refused.{refused.reason.value}")
                    return await self._render(
                        request, session, viewer, role, notice=notice, error=True
                    )
                notice = tr("remediation.marked_done", n=task.shortcoming.position)
                return await self._render(request, session, viewer, role, notice=notice)
        raise web.HTTPNotFound()

    async def files(self, request: web.Request) -> web.Response:
        """Access first (nothing is read for someone else's unit), then the body, written
        outside any transaction (as the chat downloads before its event's), then the files
        kept in a second short transaction."""
        console = self.console
        store = console.evidence
        async with transaction(console.sessions) as session:
            _, role = await self._contact(request, session, "remediation.files")
            if role is not None:
                await self._task(request, session, role)
        if role is None or store is None:
            raise web.HTTPNotFound()
        received = await receive(request, store, console.max_evidence_bytes)
        try:
            async with transaction(console.sessions) as session:
                viewer, role = await self._contact(request, session, "remediation.files")
                if role is not None:
                    given = received.fields.get("csrf", "").encode()
                    if not hmac.compare_digest(given, viewer.web_session.csrf_token.encode()):
                        raise web.HTTPForbidden(text="bad form")
                    task = await self._task(request, session, role)
                    tr = console.catalog.for_locale(viewer.locale)
                    outcomes = await self._keep(session, viewer, task, received, tr)
                    bad = not any(ok for ok, _ in outcomes)
                    return await self._render(
                        request, session, viewer, role, outcomes=outcomes, error=bad
                    )
        finally:
            received.discard(store)  # whatever was not kept
        raise web.HTTPNotFound()  # no longer theirs: refused (and audited) above

    async def _keep(
        self,
        session: AsyncSession,
        viewer: SignedIn,
        task: Task,
        received: Received,
        tr: Translator,
    ) -> list[tuple[bool, str]]:
        """Each file as the chat's handlers/remediation.py keeps one: checked, stored in the
        unit's "khac-phuc" folder, attached to the task (a repeat is said so)."""
        store, limit, now = (
            self.console.evidence,
            self.console.max_evidence_bytes,
            self.console.clock.now(),
        )
        assert store is not None
        s, a = task.shortcoming, task.assignment
        if s.status != FixStatus.OPEN:
            return [(False, tr("remediation.refused.not_open"))]
        if not received.files:
            return [(False, tr("contact.no_file_chosen"))]
        outcomes = []
        for incoming in received.files:
            problem = refusal_of(tr, incoming, limit)
            if problem is not None or incoming.path is None:
                outcomes.append((False, problem or tr("evidence.download_failed")))
                continue
            try:
                stored = await store.keep_off_loop(
                    incoming.path,
                    folder=(a.campaign.code, a.unit.code, "khac-phuc", str(s.position)),
                    file_name=incoming.name,
                )
            except RefusedFile as refused:
                name = safe_name(incoming.name)
                outcomes.append(
                    (False, tr(f"evidence.{refused.problem.value}", name=name, ext=extension(name)))
                )
                continue
            added = await add_file(
                session,
                s,
                stored,
                mime_type=mime_type_of(stored.file_name),
                person_id=viewer.person.id,
                now=now,
            )
            key = "remediation.file_received" if added else "remediation.file_duplicate"
            size = fmt_size(stored.size, tr.locale)
            outcomes.append((added, tr(key, name=stored.file_name, size=size)))
        return outcomes

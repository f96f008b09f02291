"""A unit's report on the desk console, and the team's actions on it.

    GET  /u/{id}              the report: answers with who and when, their history,
                              evidence previewed, the team's comments, the questions thread
    POST /u/{id}/flag         ask for more on one item (a comment), or clear it   members
    POST /u/{id}/return       send the report back with the items asked for       members
    POST /u/{id}/accept       accept the report                                   leaders
    POST /u/{id}/appraise     the appraised score of one item, with a reason      leaders
    POST /u/{id}/note         a message to the unit without returning the report  members
    POST /u/{id}/reply        answer one of the unit's questions                  members

Every action calls the service the chat command calls (storage/services/review.py,
questions.py), so the unit is told in chat exactly as from chat, through the outbox in
the same transaction. Who may do what is handlers/access.py's Scope ("reviews": the
team's leaders and members; "leads": its leaders; admins both); a refusal is the same 404
as an unknown unit, with an audit entry. Each POST carries the CSRF token and ends in a
redirect back to the report with a message key (POST-redirect-GET); the key is looked up
in a fixed list, so nothing from the query reaches the page but a known message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.host import ConsoleHost, SignedIn
from common.localtime import fmt_datetime
from handlers.access import Scope
from handlers.console_access import deny_web, person_scope
from handlers.team_review import COMMENT_LIMIT
from storage.db import transaction
from storage.db.models import Assignment, EvidenceFile, Role, Submission, SubmissionStatus
from storage.rules.answers import format_value, parse_number
from storage.rules.scoring import fmt_points
from storage.services import questions
from storage.services.answer_history import earlier_revisions
from storage.services.answers_read import answers_by_item, evidence_files
from storage.services.assignments import assignment_by_id
from storage.services.checklist import Checklist
from storage.services.people import roles_of
from storage.services.person_names import full_names
from storage.services.review import (
    ReviewError,
    accept_report,
    appraise_item,
    item_scores,
    pending_flags,
    return_report,
    unflag_item,
    unresolved_flags,
)
from storage.services.review import flag_item as flag_service
from storage.services.submissions import submission_for

TEXT_LIMIT = questions.TEXT_LIMIT
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
# Messages a redirect may ask the page to show: (key in desk_report.msg, is it an error).
MESSAGES = {
    "flagged": False,
    "unflagged": False,
    "returned": False,
    "accepted": False,
    "appraised": False,
    "noted": False,
    "replied": False,
    "not_submitted": True,
    "no_flags": True,
    "changed": True,
    "bad_item": True,
    "bad_text": True,
    "bad_score": True,
    "need_reason": True,
    "bad_question": True,
}


@dataclass
class Act:
    """One action's request: who, on which unit's report, with what form."""

    session: AsyncSession
    viewer: SignedIn
    assignment: Assignment
    submission: Submission
    form: dict[str, str]
    checklist: Checklist

    def text(self, name: str, limit: int) -> str | None:
        value = self.form.get(name, "").strip()
        return value if 0 < len(value) <= limit else None

    def number(self, name: str) -> int | None:
        value = self.form.get(name, "")
        return int(value) if value.isdigit() else None

    def stale(self) -> bool:
        """The form was made for an earlier state of the report (someone acted since)."""
        return self.form.get("version") != str(self.submission.version)


Action = Callable[["ReportRoutes", Act], Awaitable[str]]


async def unit_askers(session: AsyncSession, assignment_id: int, people: set[int]) -> set[int]:
    """Who of `people` is a contact of the unit: their questions are the unit's, to be
    answered; the rest of the thread is the team's own notes (questions.tell_unit)."""
    return {
        person
        for person in people
        if any(
            r.role == Role.UNIT_CONTACT and r.assignment_id == assignment_id
            for r in await roles_of(session, person)
        )
    }


class ReportRoutes:
    """The report page and its actions, over the console's database, catalog and clock."""

    def __init__(self, console: ConsoleHost) -> None:
        self.console = console

    def register(self, app: web.Application) -> None:
        app.router.add_get("/u/{assignment_id:[0-9]+}", self.report)
        for name, (need, action) in ACTIONS.items():
            app.router.add_post(
                f"/u/{{assignment_id:[0-9]+}}/{name}", self._route(name, need, action)
            )

    # -- the page ----------------------------------------------------------------------------

    async def report(self, request: web.Request) -> web.Response:
        console = self.console
        assignment_id = int(request.match_info["assignment_id"])
        async with transaction(console.sessions) as session:
            viewer = await console.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{console.root}/")
            scope, _ = await person_scope(session, viewer.person, console.admin_ids)
            assignment = await assignment_by_id(session, assignment_id)
            if assignment is None or not scope.sees(assignment):
                await self._deny(session, viewer, "unit_report", assignment_id)
                context = None  # refused after the commit: the audit entry must stay
            else:
                context = await self._context(session, viewer, scope, assignment)
        if context is None:
            raise web.HTTPNotFound()
        shown = request.query.get("msg", "")
        return console.page(
            request,
            "report.html",
            viewer.locale,
            csrf=viewer.web_session.csrf_token,
            message=shown if shown in MESSAGES else "",
            message_error=MESSAGES.get(shown, False),
            **context,
        )

    async def _context(
        self, session: AsyncSession, viewer: SignedIn, scope: Scope, assignment: Assignment
    ) -> dict[str, Any]:
        campaign = assignment.campaign
        submission = await submission_for(session, assignment.id)
        checklist = await self.console.checklists.get(session, campaign.id, campaign.updated_at)
        answers = await answers_by_item(session, submission.id)
        history = await earlier_revisions(session, submission.id)
        files: dict[int, list[EvidenceFile]] = {}
        for found in await evidence_files(session, submission.id):
            files.setdefault(found.item_id, []).append(found)
        flags = {f.item_id: f for f in await unresolved_flags(session, submission.id)}
        scores = {s.item_id: s for s in await item_scores(session, submission, checklist)}
        thread = await questions.thread(session, submission.id)
        people = {a.answered_by for a in answers.values()}
        people |= {r.answered_by for revs in history.values() for r in revs}
        people |= {q.asked_by for q in thread} | {f.flagged_by for f in flags.values()}
        names = await full_names(session, people)
        askers = await unit_askers(session, assignment.id, {q.asked_by for q in thread})
        tz = campaign.timezone
        tr = self.console.catalog.for_locale(viewer.locale)

        def when(value: Any) -> str:
            return fmt_datetime(value, tz)

        rows = []
        for item in checklist.items:
            answer = answers.get(item.id)
            rows.append(
                {
                    "item": item,
                    "value": format_value(item, answer.value, tr) if answer else "",
                    "by": names.get(answer.answered_by, "") if answer else "",
                    "at": when(answer.answered_at) if answer else "",
                    "history": [
                        {
                            "value": format_value(item, r.value, tr),
                            "by": names.get(r.answered_by, ""),
                            "at": when(r.answered_at),
                        }
                        for r in history.get(item.id, [])
                    ],
                    "files": [
                        {
                            "row": f,
                            "image": f.mime_type in IMAGE_TYPES,
                            "pdf": f.mime_type == "application/pdf",
                        }
                        for f in files.get(item.id, [])
                    ],
                    "flag": flags.get(item.id),
                    "score": scores[item.id],
                    "points": fmt_points(item.points, tr),
                }
            )
        status = submission.status
        return {
            "unit_name": assignment.unit.name,
            "assignment_id": assignment.id,
            "campaign": campaign,
            "report_status": "late" if status == "submitted" and submission.late else status,
            "version": submission.version,
            "submitted": status == SubmissionStatus.SUBMITTED,
            "pending": len([f for f in flags.values() if f.returned_at is None]),
            "may_review": scope.reviews(assignment),
            "may_lead": scope.leads(assignment),
            "rows": rows,
            "thread": [
                {
                    "q": q,
                    "by": names.get(q.asked_by, "?"),
                    "at": when(q.asked_at),
                    "from_unit": q.asked_by in askers,
                }
                for q in thread
            ],
            "total": fmt_points(sum(s.final for s in scores.values()), tr),
            "max": fmt_points(checklist.max_score, tr),
            "fmt_points": lambda value: fmt_points(value, tr),
            "names": names,
            "when": when,
            "comment_limit": COMMENT_LIMIT,
            "text_limit": TEXT_LIMIT,
        }

    # -- actions -------------------------------------------------------------------------------

    def _route(
        self, name: str, need: str, action: Action
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._act(request, name, need, action)

        return handle

    async def _act(
        self, request: web.Request, name: str, need: str, action: Action
    ) -> web.StreamResponse:
        console = self.console
        assignment_id = int(request.match_info["assignment_id"])
        async with transaction(console.sessions) as session:
            viewer = await console.viewer(request, session)
            if viewer is None:
                raise web.HTTPSeeOther(f"{console.root}/")
            form = await console.check_csrf(request, viewer)
            scope, _ = await person_scope(session, viewer.person, console.admin_ids)
            assignment = await assignment_by_id(session, assignment_id)
            if assignment is None or not getattr(scope, need)(assignment):
                await self._deny(session, viewer, f"report.{name}", assignment_id)
                outcome = None  # refused after the commit: the audit entry must stay
            else:
                campaign = assignment.campaign
                act = Act(
                    session,
                    viewer,
                    assignment,
                    await submission_for(session, assignment.id),
                    form,
                    await console.checklists.get(session, campaign.id, campaign.updated_at),
                )
                outcome = await action(self, act)
        if outcome is None:
            raise web.HTTPNotFound()
        anchor = f"#{form['anchor']}" if form.get("anchor", "").isidentifier() else ""
        raise web.HTTPSeeOther(f"{console.root}/u/{assignment_id}?msg={outcome}{anchor}")

    async def _deny(
        self, session: AsyncSession, viewer: SignedIn, action: str, assignment_id: int
    ) -> None:
        await deny_web(
            session,
            now=self.console.clock.now(),
            person_id=viewer.person.id,
            action=action,
            subject=f"assignment:{assignment_id}",
        )

    async def flag(self, act: Act) -> str:
        if act.submission.status != SubmissionStatus.SUBMITTED:
            return "not_submitted"
        item = act.checklist.by_id(act.number("item") or 0)
        if item is None:
            return "bad_item"
        if "clear" in act.form:
            await unflag_item(act.session, act.submission, item.id)
            return "unflagged"
        comment = act.text("comment", COMMENT_LIMIT)
        if comment is None:
            return "bad_text"
        await flag_service(
            act.session,
            act.submission,
            item.id,
            comment,
            person_id=act.viewer.person.id,
            now=self.console.clock.now(),
        )
        return "flagged"

    async def return_(self, act: Act) -> str:
        if act.submission.status != SubmissionStatus.SUBMITTED:
            return "not_submitted"
        if act.stale():
            return "changed"
        if not await pending_flags(act.session, act.submission.id):
            return "no_flags"
        try:
            await return_report(
                act.session,
                act.submission,
                act.checklist,
                person_id=act.viewer.person.id,
                now=self.console.clock.now(),
            )
        except ReviewError as error:  # checked above; kept for a race with the chat
            return error.reason.value
        return "returned"

    async def accept(self, act: Act) -> str:
        if act.submission.status != SubmissionStatus.SUBMITTED:
            return "not_submitted"
        if act.stale():
            return "changed"
        await accept_report(
            act.session,
            act.submission,
            act.checklist,
            person_id=act.viewer.person.id,
            now=self.console.clock.now(),
        )
        return "accepted"

    async def appraise(self, act: Act) -> str:
        item = act.checklist.by_id(act.number("item") or 0)
        if item is None or item.points <= 0:
            return "bad_item"
        value = parse_number(act.form.get("score", "").strip(), dot_may_group=False)
        if value is None or not 0 <= value <= item.points:
            return "bad_score"
        scores = await item_scores(act.session, act.submission, act.checklist)
        own = next(s.self_score for s in scores if s.item_id == item.id)
        reason = act.text("reason", COMMENT_LIMIT)
        if abs(value - own) > 1e-9 and reason is None:
            return "need_reason"  # as in chat: a score other than the unit's needs a reason
        await appraise_item(
            act.session,
            act.submission,
            act.checklist,
            item.id,
            value,
            reason if abs(value - own) > 1e-9 else None,
            person_id=act.viewer.person.id,
            now=self.console.clock.now(),
        )
        return "appraised"

    async def note(self, act: Act) -> str:
        text = act.text("text", TEXT_LIMIT)
        if text is None:
            return "bad_text"
        await questions.tell_unit(
            act.session,
            act.assignment,
            act.submission.id,
            text,
            person_id=act.viewer.person.id,
            person_name=act.viewer.person.full_name,
            now=self.console.clock.now(),
        )
        return "noted"

    async def reply(self, act: Act) -> str:
        question = await questions.question_by_id(act.session, act.number("question") or 0)
        if (
            question is None
            or question.parent_id is not None
            or question.submission_id != act.submission.id
            or not await unit_askers(act.session, act.assignment.id, {question.asked_by})
        ):
            return "bad_question"
        text = act.text("text", TEXT_LIMIT)
        if text is None:
            return "bad_text"
        await questions.answer(
            act.session,
            question,
            act.assignment,
            text,
            person_id=act.viewer.person.id,
            person_name=act.viewer.person.full_name,
            now=self.console.clock.now(),
        )
        return "replied"


# Each action: the Scope check it needs (handlers/access.py, as the chat command) and its code.
ACTIONS: dict[str, tuple[str, Action]] = {
    "flag": ("reviews", ReportRoutes.flag),
    "return": ("reviews", ReportRoutes.return_),
    "accept": ("leads", ReportRoutes.accept),
    "appraise": ("leads", ReportRoutes.appraise),
    "note": ("reviews", ReportRoutes.note),
    "reply": ("reviews", ReportRoutes.reply),
}

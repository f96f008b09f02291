"""What the unit contact's pages are made of: the report of a request, each item's view,
and keeping the files a browser sent (bot/console/contact_routes.py, upload_link_routes.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.contact_uploads import Outcome, Received, take_files
from bot.console.host import ConsoleHost, SignedIn
from common.i18n import Translator
from handlers.reopened_evidence import takes_evidence
from storage.db.models import (
    EvidenceFile,
    Role,
    Submission,
    SubmissionStatus,
)
from storage.rules.answers import format_number, format_value
from storage.rules.form_answers import option_number
from storage.rules.progress import AnswerState
from storage.services.answers_read import evidence_files
from storage.services.checklist import Checklist, ItemInfo
from storage.services.people import PersonRole, roles_of
from storage.services.review import unresolved_flags
from storage.services.submissions import answer_states, edit_refusal, submission_for

Viewer = SignedIn  # the signed-in person of a request
Console = ConsoleHost  # what these routes use of bot.console.app.Console


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


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def contact_report(
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


def typed_values(item: ItemInfo, state: AnswerState | None, tr: Translator) -> list[str]:
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


async def item_views(
    session: AsyncSession, report: Report, tr: Translator, *, only: int | None = None
) -> list[ItemView]:
    """Every item of the report (or the one `only`) as the page shows it."""
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
                typed=typed_values(item, state, tr),
                comments=tuple(comments.get(item.id, ())),
            )
        )
    return views


async def take_evidence(
    session: AsyncSession,
    console: Console,
    person_id: int,
    report: Report,
    item: ItemInfo,
    received: Received,
    tr: Translator,
) -> list[Outcome]:
    """The received files kept for the item, as in chat; an outcome per file."""
    assert console.evidence is not None
    if await edit_refusal(session, report.submission, item.id) is not None or not (
        await takes_evidence(session, report.submission, item)
    ):
        return [Outcome(f.name, False, tr("contact.link_locked")) for f in received.files]
    if not received.files:
        return [Outcome("", False, tr("contact.no_file_chosen"))]
    return await take_files(
        session,
        console.evidence,
        tr,
        files=received.files,
        submission=report.submission,
        item=item,
        folder=(*report.folder, item.code),
        limit=console.max_evidence_bytes,
        person_id=person_id,
        now=console.clock.now(),
    )


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def files_json(outcomes: Sequence[Outcome]) -> web.Response:
    """The outcomes for the page's script (contact.js)."""
    return web.json_response(
        {"files": [{"name": o.name, "ok": o.ok, "text": o.text} for o in outcomes]}
    )

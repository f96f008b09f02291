"""What leaders, members and admins see: /summary with its chart, and one unit in detail
(answers with who gave them, evidence files sent back on request, the question thread)."""

from __future__ import annotations

import uuid
from html import escape

from common.localtime import fmt_datetime, zone
from common.messages import Choice, OutFile
from handlers.access import Scope, assignment_in_scope, deny, scope_of
from handlers.cards import even_rows, pager, short, value_text
from handlers.charts import ChartData, render_progress_chart
from handlers.context import Turn
from handlers.remediation import progress_lines
from handlers.self_score_card import needs_self_score, score_text, self_score_line
from handlers.tokens import Token, make
from storage.db.models import Assignment, Campaign, Submission, SubmissionStatus
from storage.rules.burnup import burnup, share_counts
from storage.rules.scoring import fmt_points
from storage.rules.unit_names import short_unit_name
from storage.services.answers_read import (
    answers_by_item,
    evidence_counts,
    evidence_file,
    evidence_files,
    submission_assignment_id,
)
from storage.services.campaigns import open_campaigns
from storage.services.checklist import Checklist
from storage.services.person_names import full_names
from storage.services.progress_history import unit_progress
from storage.services.questions import thread
from storage.services.ranking import campaign_ranking
from storage.services.review import unresolved_flags
from storage.services.self_scores import hand_scores, self_scores
from storage.services.submissions import submission_for
from storage.services.team_status import TeamSummary, team_summaries, unit_states

PAGE = 8
MAX_UNIT_BUTTONS = 40
MAX_RANKED = 10
UNIT_BUTTONS_PER_ROW = 2  # short names, two side by side fit a phone's width
# A unit button's mark: accepted and submitted (still to review) look different.
UNIT_MARKS: dict[str, str] = {SubmissionStatus.ACCEPTED: "✅", SubmissionStatus.SUBMITTED: "📥"}


async def campaigns_in_scope(turn: Turn, scope: Scope) -> list[Campaign]:
    """The open campaigns the person sees: all for an admin, else their teams' ones."""
    return await open_campaigns(turn.session, of_teams=None if scope.admin else scope.team_ids)


async def show_summary(turn: Turn) -> None:
    scope = await scope_of(turn)
    if not scope.is_team:
        await deny(turn, "summary")
        return
    for campaign in await campaigns_in_scope(turn, scope):
        summaries = [
            s
            for s in await team_summaries(turn.session, campaign, turn.now)
            if scope.admin or s.team_id in scope.team_ids
        ]
        if summaries:
            await _campaign_summary(turn, campaign, summaries)


async def _campaign_summary(turn: Turn, campaign: Campaign, summaries: list[TeamSummary]) -> None:
    states = await unit_states(turn.session, team_ids=[s.team_id for s in summaries])
    scores = [s.self_score for s in states if s.self_score is not None]
    average = fmt_points(sum(scores) / len(scores), turn.tr) if scores else "—"
    lines = [
        turn.t(
            "team.summary_title",
            campaign=escape(campaign.title),
            time=fmt_datetime(turn.now, campaign.timezone),
        )
    ]
    for s in summaries:
        lines.append(
            turn.t(
                "team.summary_team",
                team=escape(s.name),
                submitted=s.submitted,
                accepted=s.accepted,
                awaiting=s.awaiting_review,
                total=s.total,
                in_progress=s.in_progress,
                not_started=s.not_started,
                returned=s.returned,
                overdue=len(s.overdue),
            )
        )
        if s.not_submitted:
            lines.append(turn.t("team.not_submitted", names=_names(s.not_submitted)))
        if s.unreachable:
            lines.append(turn.t("team.unreachable", names=_names(s.unreachable)))
        if s.no_contact:
            lines.append(turn.t("team.no_contact", names=_names(s.no_contact)))
    lines.append(turn.t("team.average_score", score=average))
    lines += await progress_lines(turn, campaign.id, campaign.timezone, states)
    lines += await ranking_lines(turn, campaign, [s.team_id for s in summaries])
    chart = turn.deps.evidence.root / ".charts" / f"{uuid.uuid4().hex}.png"
    render_progress_chart(await _chart_data(turn, campaign, summaries), chart, turn.tr)
    buttons = [
        Choice(
            f"{UNIT_MARKS.get(s.status, '⏳')} {short_unit_name(s.unit_name)}",
            make("ru", s.assignment_id),
        )
        for s in states[:MAX_UNIT_BUTTONS]
    ]
    turn.say(turn.t("team.chart_caption"), photo=OutFile(chart, "tien-do.png", "image/png"))
    turn.say("\n".join(lines), even_rows(buttons, UNIT_BUTTONS_PER_ROW))


async def _chart_data(turn: Turn, campaign: Campaign, summaries: list[TeamSummary]) -> ChartData:
    units = await unit_progress(turn.session, campaign.id, [s.team_id for s in summaries])
    checklist = await turn.deps.checklists.get(turn.session, campaign.id)
    tz = zone(campaign.timezone)
    started = [u.started_at for u in units if u.started_at is not None]
    first = min([campaign.created_at, *started]).astimezone(tz).date()
    deadline = campaign.deadline.astimezone(tz).date()
    return ChartData(
        burnup=burnup(
            [(u.started_at, u.submitted_at) for u in units],
            first_day=first,
            today=turn.now.astimezone(tz).date(),
            tz=tz,
        ),
        total=len(units),
        deadline=deadline,
        shares=share_counts([u.answered for u in units], len(checklist.items)),
    )


async def ranking_lines(turn: Turn, campaign: Campaign, team_ids: list[int]) -> list[str]:
    """The ranking by appraised score among the units shown (ties share a rank)."""
    checklist = await turn.deps.checklists.get(turn.session, campaign.id)
    ranked = await campaign_ranking(
        turn.session, campaign.id, checklist.max_score, turn.now, team_ids
    )
    placed = [r for r in ranked if r.rank is not None]
    if not placed:
        return []
    lines = ["", turn.t("scores.ranking_title")]
    for row in placed[:MAX_RANKED]:
        assert row.percent is not None and row.score is not None
        lines.append(
            turn.t(
                "scores.ranking_line",
                rank=row.rank,
                unit=escape(row.unit_name),
                percent=score_text(turn, row.percent),
                score=score_text(turn, row.score),
                max=score_text(turn, row.maximum),
            )
            + (turn.t("scores.ranking_tied") if row.tied else "")
            + ("" if row.final else turn.t("scores.ranking_provisional"))
        )
    if len(placed) > MAX_RANKED:
        lines.append(turn.t("scores.ranking_more", count=len(placed) - MAX_RANKED))
    if len(ranked) > len(placed):
        lines.append(turn.t("scores.ranking_unranked", count=len(ranked) - len(placed)))
    return lines


def _names(names: tuple[str, ...], limit: int = 15) -> str:
    shown = ", ".join(escape(n) for n in names[:limit])
    return shown + (f" (+{len(names) - limit})" if len(names) > limit else "")


# -- one unit ------------------------------------------------------------------------------


async def open_unit(turn: Turn, token: Token) -> None:
    assignment = await assignment_in_scope(turn, token.int_arg(0), "unit.open", need="reviews")
    if assignment is None:
        return
    submission = await submission_for(turn.session, assignment.id)
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    scope = await scope_of(turn)
    text = await unit_text(turn, assignment, submission, checklist)
    turn.say(text, unit_buttons(turn, assignment, submission, leads=scope.leads(assignment)))


async def unit_text(
    turn: Turn, assignment: Assignment, submission: Submission, checklist: Checklist
) -> str:
    from storage.rules.progress import compute_progress
    from storage.services.submissions import answer_states

    campaign = assignment.campaign
    progress = compute_progress(
        checklist.items,
        await answer_states(turn.session, submission.id),
        await hand_scores(turn.session, submission.id),
    )
    deadline = assignment.deadline or campaign.deadline
    lines = [
        turn.t(
            "status.unit_title", unit=escape(assignment.unit.name), campaign=escape(campaign.title)
        ),
        turn.t(f"status.state.{submission.status}"),
        turn.t("review.deadline", deadline=fmt_datetime(deadline, campaign.timezone)),
        turn.t("review.answered", answered=progress.answered, total=progress.total),
        turn.t(
            "review.score",
            score=fmt_points(progress.self_score, turn.tr),
            max=fmt_points(progress.max_score, turn.tr),
        ),
    ]
    if submission.submitted_at:
        lines.append(
            turn.t(
                "status.submitted_at", time=fmt_datetime(submission.submitted_at, campaign.timezone)
            )
        )
    if submission.late:
        lines.append(turn.t("status.late"))
    if submission.appraised_score is not None:
        lines.append(
            turn.t(
                "team.appraised",
                score=fmt_points(submission.appraised_score, turn.tr),
                max=fmt_points(progress.max_score, turn.tr),
            )
        )
    if assignment.visit_at:
        key = "team.visit" if assignment.visit_announced else "team.visit_unannounced"
        lines.append(
            turn.t(
                key,
                time=fmt_datetime(assignment.visit_at, campaign.timezone),
                place=escape(assignment.visit_place or ""),
            )
        )
    return "\n".join(lines)


def unit_buttons(
    turn: Turn, assignment: Assignment, submission: Submission, *, leads: bool
) -> list[list[Choice]]:
    a = assignment.id
    rows = [
        [
            turn.button("team.answers", make("ua", a, 0)),
            turn.button("team.evidence", make("ue", a)),
        ],
        [turn.button("team.thread", make("uq", a))],
    ]
    if submission.status == SubmissionStatus.SUBMITTED:
        row = [turn.button("team.ask_more", make("rf", a, 0))]
        if leads:
            row.append(turn.button("team.accept", make("ac", a)))
        rows.append(row)
    if leads and submission.status in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED):
        rows.append([turn.button("team.appraise", make("ap", a, 0))])
        rows.append([turn.button("conclusion.open_button", make("kl", a))])
    return rows


async def _reviewed_unit(
    turn: Turn, token: Token, action: str
) -> tuple[Assignment, Submission, Checklist] | None:
    """The unit a team button is about, if the person may review it (else refused)."""
    assignment = await assignment_in_scope(turn, token.int_arg(0), action, need="reviews")
    if assignment is None:
        return None
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    return assignment, await submission_for(turn.session, assignment.id), checklist


async def unit_answers(turn: Turn, token: Token) -> None:
    found = await _reviewed_unit(turn, token, "unit.answers")
    if found is None:
        return
    assignment, submission, checklist = found
    page = max(0, token.int_arg(1) or 0)
    items = checklist.items[page * PAGE : (page + 1) * PAGE]
    answers = await answers_by_item(turn.session, submission.id)
    people = await full_names(turn.session, {a.answered_by for a in answers.values()})
    files = await evidence_counts(turn.session, submission.id)
    own = await self_scores(turn.session, submission.id)
    tz = assignment.campaign.timezone
    lines = [
        turn.t(
            "team.answers_title",
            unit=escape(assignment.unit.name),
            page=page + 1,
            pages=max(1, -(-len(checklist.items) // PAGE)),
        )
    ]
    for item in items:
        answer = answers.get(item.id)
        if answer is None or answer.value is None:
            lines.append(f"⬜ <b>{escape(item.code)}</b> {escape(short(item.text, 50))}")
            continue
        lines.append(
            turn.t(
                "team.answer_line",
                code=escape(item.code),
                text=escape(short(item.text, 50)),
                value=value_text(turn, item, answer.value),
                who=escape(people.get(answer.answered_by, "?")),
                when=fmt_datetime(answer.answered_at, tz),
                files=files.get(item.id, 0),
            )
        )
        if answer.note:
            lines.append(turn.t("checklist.note_given", note=escape(short(answer.note, 200))))
        if needs_self_score(item):
            lines.append(self_score_line(turn, item, own.get(item.id)))
    rows = pager(turn, page, len(checklist.items), PAGE, "ua", assignment.id)
    rows.append([turn.button("team.back_to_unit", make("ru", assignment.id))])
    turn.say("\n".join(lines), rows, edit=True)


async def unit_evidence(turn: Turn, token: Token) -> None:
    found = await _reviewed_unit(turn, token, "unit.evidence")
    if found is None:
        return
    assignment, submission, checklist = found
    files = await evidence_files(turn.session, submission.id)
    if not files:
        turn.say(
            turn.t("team.no_evidence"),
            [[turn.button("team.back_to_unit", make("ru", assignment.id))]],
            edit=True,
        )
        return
    rows = []
    for f in files[:40]:
        item = checklist.by_id(f.item_id)
        label = f"{item.code if item else '?'} · {short(f.file_name, 40)}"
        rows.append([Choice(label, make("ef", f.id))])
    rows.append([turn.button("team.back_to_unit", make("ru", assignment.id))])
    turn.say(
        turn.t("team.evidence_title", unit=escape(assignment.unit.name), count=len(files)),
        rows,
        edit=True,
    )


async def send_evidence(turn: Turn, token: Token) -> None:
    """Send one evidence file back as a document (team members of the unit, admins)."""
    evidence = await evidence_file(turn.session, token.int_arg(0) or 0)
    assignment_id = (
        await submission_assignment_id(turn.session, evidence.submission_id) if evidence else None
    )
    assignment = await assignment_in_scope(turn, assignment_id, "evidence.file", need="reviews")
    if assignment is None or evidence is None:
        return
    path = turn.deps.evidence.path_of(evidence.storage_path)
    if not path.exists():
        turn.say(turn.t("team.file_missing", name=escape(evidence.file_name)))
        return
    caption = turn.t("team.file_caption", name=escape(evidence.file_name), sha=evidence.sha256[:16])
    turn.say(caption, document=OutFile(path, evidence.file_name, evidence.mime_type))


async def unit_thread(turn: Turn, token: Token) -> None:
    assignment = await assignment_in_scope(turn, token.int_arg(0), "unit.thread", need="sees")
    if assignment is None:
        return
    submission = await submission_for(turn.session, assignment.id)
    await show_thread(turn, assignment, submission)


async def show_thread(turn: Turn, assignment: Assignment, submission: Submission) -> None:
    questions = await thread(turn.session, submission.id)
    names = await full_names(turn.session, {q.asked_by for q in questions})
    tz = assignment.campaign.timezone
    lines = [turn.t("questions.thread_title", unit=escape(assignment.unit.name))]
    for q in questions[-20:]:
        key = "questions.thread_answer" if q.parent_id else "questions.thread_question"
        lines.append(
            turn.t(
                key,
                name=escape(names.get(q.asked_by, "?")),
                time=fmt_datetime(q.asked_at, tz),
                text=escape(q.text),
            )
        )
    if not questions:
        lines.append(turn.t("questions.thread_empty"))
    turn.say("\n\n".join(lines))


async def pending_flags_text(turn: Turn, submission: Submission, checklist: Checklist) -> str:
    lines = []
    for flag in await unresolved_flags(turn.session, submission.id):
        item = checklist.by_id(flag.item_id)
        if item:
            lines.append(f"🔁 <b>{escape(item.code)}</b>: {escape(flag.comment)}")
    return "\n".join(lines)


CHOICES = {
    "ru": open_unit,
    "ua": unit_answers,
    "ue": unit_evidence,
    "ef": send_evidence,
    "uq": unit_thread,
}

"""/status: a unit contact's progress; a team's state for its leaders and members."""

from __future__ import annotations

from html import escape

from common.localtime import fmt_datetime
from common.messages import Choice
from handlers import remediation
from handlers.context import Turn
from handlers.review import progress_lines
from handlers.team import pending_flags_text
from handlers.tokens import Token, make
from handlers.unit import UnitContext, active_unit, not_linked, roles, team_roles
from storage.db.models import Role
from storage.rules.progress import compute_progress
from storage.rules.scoring import fmt_points
from storage.services.appraisal_rounds import round_of
from storage.services.people import PersonRole
from storage.services.review import item_scores
from storage.services.self_scores import hand_scores
from storage.services.submissions import answer_states
from storage.services.team_status import DONE, UnitState, unit_states

MAX_NAMES = 15


async def show_status(turn: Turn) -> None:
    linked = await roles(turn)
    if not linked:
        not_linked(turn)
        return
    if any(r.role == Role.UNIT_CONTACT for r in linked):
        ctx = await active_unit(turn)
        if ctx is not None:
            await _unit_status(turn, ctx)
    teams = await team_roles(turn)
    if teams:
        await _team_status(turn, teams)


async def _unit_status(turn: Turn, ctx: UnitContext) -> None:
    states = await answer_states(turn.session, ctx.submission.id)
    progress = compute_progress(
        ctx.checklist.items, states, await hand_scores(turn.session, ctx.submission.id)
    )
    role, submission = ctx.role, ctx.submission
    lines = [
        turn.t(
            "status.unit_title",
            unit=escape(role.unit_name or ""),
            campaign=escape(role.campaign_title),
        ),
        turn.t(f"status.state.{submission.status}"),
        turn.t("review.deadline", deadline=fmt_datetime(role.deadline, role.timezone)),
    ]
    if submission.submitted_at:
        lines.append(
            turn.t("status.submitted_at", time=fmt_datetime(submission.submitted_at, role.timezone))
        )
    if submission.late:
        lines.append(turn.t("status.late"))
    elif submission.status not in DONE and turn.now > role.deadline:
        lines.append(turn.t("status.overdue"))
    lines += progress_lines(turn, ctx, progress)
    lines += await _review_lines(turn, ctx)
    lines += await remediation.status_lines(turn, role.assignment_id or 0)
    rows: list[list[Choice]] = []
    if await round_of(turn.session, submission.id) is not None:
        rows.append([turn.button("scores.results_button", make("xa"))])
    if submission.status not in DONE:
        rows.append(
            [
                turn.button("onboarding.button_start", make("k")),
                turn.button("checklist.review", make("r")),
            ]
        )
    turn.say("\n".join(lines), rows)


async def _review_lines(turn: Turn, ctx: UnitContext) -> list[str]:
    """What the team said about this report: the items to complete, or the appraisal."""
    submission, checklist = ctx.submission, ctx.checklist
    if submission.status == "returned":
        flags = await pending_flags_text(turn, submission, checklist)
        return ["", turn.t("review.flags_title"), flags] if flags else []
    if submission.appraised_score is None:
        return []
    lines = [
        "",
        turn.t(
            "review.appraisal_title",
            score=fmt_points(submission.appraised_score, turn.tr),
            max=fmt_points(checklist.max_score, turn.tr),
        ),
    ]
    for s in await item_scores(turn.session, submission, checklist):
        item = checklist.by_id(s.item_id)
        if item and s.appraised is not None and abs(s.appraised - s.self_score) > 1e-9:
            lines.append(
                turn.t(
                    "review.appraisal_line",
                    code=escape(item.code),
                    score=fmt_points(s.appraised, turn.tr),
                    own=fmt_points(s.self_score, turn.tr),
                    reason=escape(s.reason or ""),
                )
            )
    return lines


async def _team_status(turn: Turn, teams: list[PersonRole]) -> None:
    states = await unit_states(
        turn.session, team_ids=[r.team_id for r in teams if r.team_id is not None]
    )
    for team in teams:
        mine = [s for s in states if s.team_id == team.team_id]
        turn.say(*_team_text(turn, team, mine))


def _team_text(
    turn: Turn, team: PersonRole, states: list[UnitState]
) -> tuple[str, list[list[Choice]]]:
    now = turn.now
    done = [s for s in states if s.status in DONE]
    pending = [s for s in states if s.status not in DONE]
    overdue = [s for s in pending if s.overdue(now)]
    lines = [
        turn.t(
            "status.team_title",
            team=escape(team.team_name or ""),
            campaign=escape(team.campaign_code),
        ),
        turn.t(
            "status.team_counts",
            submitted=len(done),
            total=len(states),
            in_progress=sum(1 for s in pending if s.status == "in_progress"),
            not_started=sum(1 for s in pending if s.status == "not_started"),
            returned=sum(1 for s in pending if s.status == "returned"),
            overdue=len(overdue),
        ),
    ]
    if pending:
        names = ", ".join(escape(s.unit_name) for s in pending[:MAX_NAMES])
        more = len(pending) - MAX_NAMES
        lines.append(
            turn.t("status.team_pending", names=names + (f" (+{more})" if more > 0 else ""))
        )
    buttons = [
        Choice(f"{'✅' if s.status in DONE else '⏳'} {s.unit_code}", make("ru", s.assignment_id))
        for s in states[:40]
    ]
    rows = [buttons[n : n + 4] for n in range(0, len(buttons), 4)]
    return "\n".join(lines), rows


async def pressed_status(turn: Turn, token: Token) -> None:
    await show_status(turn)


CHOICES = {"st": pressed_status}

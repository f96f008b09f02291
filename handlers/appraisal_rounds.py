"""The team's appraisal rounds in chat (leaders and admins, as for appraising): send round 1
to the unit, then in round 2 keep or change each item the unit explained."""

from __future__ import annotations

from html import escape

from common.localtime import fmt_datetime
from common.messages import Choice
from handlers.access import assignment_in_scope
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.self_score_card import score_text
from handlers.tokens import Token, make
from storage.db.models import Assignment, Submission
from storage.rules.self_score import read_self_score, step_choices
from storage.services.appraisal_rounds import (
    ItemView,
    RoundError,
    UnitAppraisal,
    decide_item,
    send_round1,
    unit_appraisal,
)
from storage.services.checklist import Checklist
from storage.services.submissions import submission_for

ACTION = "review.appraise"
REASON_LIMIT = 1000
PER_ROW = 5


async def _target(
    turn: Turn, assignment_id: int | None
) -> tuple[Assignment, Submission, Checklist] | None:
    assignment = await assignment_in_scope(turn, assignment_id, ACTION, need="leads")
    if assignment is None:
        return None
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    return assignment, await submission_for(turn.session, assignment.id), checklist


def _refused(turn: Turn, error: RoundError) -> None:
    text = turn.t(f"scores.refused.{error.reason.value}")
    turn.say(text, toast=text if turn.inbound.choice else None)


# -- round 1: send -----------------------------------------------------------------------


async def ask_round1(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0))
    if found is None:
        return
    assignment, submission, checklist = found
    view = await unit_appraisal(turn.session, submission, checklist, turn.now)
    if view.round is not None:
        await _show_round2(turn, assignment, view, edit=True)
        return
    marked = [v for v in view.items if v.rule.round1 is not None and v.rule.round1 < v.self_score]
    turn.say(
        turn.t(
            "scores.round1_confirm",
            unit=escape(assignment.unit.name),
            count=len(marked),
            score=score_text(turn, view.score),
            max=score_text(turn, view.maximum),
            days=checklist.scoring.explain_days,
        ),
        [
            [
                turn.button("scores.round1_yes", make("a1c", assignment.id)),
                turn.button("common.cancel", make("ap", assignment.id, 0)),
            ]
        ],
        edit=True,
    )


async def confirm_round1(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0))
    if found is None:
        return
    assignment, submission, checklist = found
    try:
        view = await send_round1(
            turn.session, submission, checklist, person_id=turn.person.id, now=turn.now
        )
    except RoundError as error:
        _refused(turn, error)
        return
    turn.wrote_outbox = True
    assert view.round is not None
    key = "scores.round1_sent_final" if view.final else "scores.round1_sent"
    turn.say(
        turn.t(
            key,
            unit=escape(assignment.unit.name),
            count=len(view.marked_down),
            score=score_text(turn, view.score),
            max=score_text(turn, view.maximum),
            deadline=fmt_datetime(view.round.explain_until, assignment.campaign.timezone),
        ),
        edit=True,
    )


# -- round 2 -----------------------------------------------------------------------------


async def round2_list(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0))
    if found is None:
        return
    assignment, submission, checklist = found
    view = await unit_appraisal(turn.session, submission, checklist, turn.now)
    await _show_round2(turn, assignment, view, edit=bool(turn.inbound.choice))


async def _show_round2(
    turn: Turn, assignment: Assignment, view: UnitAppraisal, *, edit: bool = False, prefix: str = ""
) -> None:
    if view.round is None:
        turn.say(turn.t("scores.refused.not_sent"))
        return
    tz = assignment.campaign.timezone
    lines = [
        turn.t(
            "scores.round2_title",
            unit=escape(assignment.unit.name),
            score=score_text(turn, view.score),
            max=score_text(turn, view.maximum),
        )
    ]
    if view.final:
        lines.append(turn.t("scores.state_final"))
    elif not view.closed:
        lines.append(
            turn.t(
                "scores.team_waiting",
                deadline=fmt_datetime(view.round.explain_until, tz),
                count=len(view.explained),
            )
        )
    rows: list[list[Choice]] = []
    for v in view.explained:
        decided = v.rule.round2 is not None
        label = turn.t(
            "scores.round2_item_done" if decided else "scores.round2_item",
            code=v.item.code,
            round1=score_text(turn, v.rule.round1 or 0.0),
            round2=score_text(turn, v.rule.round2 or 0.0),
        )
        rows.append([Choice(label, make("r2i", assignment.id, v.item.id))])
    if not view.explained:
        lines.append(turn.t("scores.nothing_explained"))
    rows.append([turn.button("team.back_to_unit", make("ru", assignment.id))])
    turn.set_state("idle")
    turn.say(prefix + "\n".join(lines), rows, edit=edit)


async def _explained(
    turn: Turn, assignment_id: int | None, item_id: int | None
) -> tuple[Assignment, Submission, Checklist, UnitAppraisal, ItemView] | None:
    found = await _target(turn, assignment_id)
    if found is None:
        return None
    assignment, submission, checklist = found
    view = await unit_appraisal(turn.session, submission, checklist, turn.now)
    item = view.view(item_id or 0)
    if item is None or item.explanation is None:
        await stale_button(turn)
        return None
    return assignment, submission, checklist, view, item


async def round2_item(turn: Turn, token: Token) -> None:
    found = await _explained(turn, token.int_arg(0), token.int_arg(1))
    if found is None:
        return
    assignment, _submission, checklist, _view, v = found
    assert v.explanation is not None
    a, i = assignment.id, v.item.id
    text = turn.t(
        "scores.round2_card",
        code=escape(v.item.code),
        text=escape(v.item.text),
        own=score_text(turn, v.self_score),
        round1=score_text(turn, v.rule.round1 or 0.0),
        reason=escape(v.reason or ""),
        explanation=escape(v.explanation.text),
        files=v.files,
        max=score_text(turn, v.item.points),
    )
    values = step_choices(v.item.points, checklist.scoring.score_step)
    buttons = [Choice(score_text(turn, x), make("r2s", a, i, n)) for n, x in enumerate(values)]
    rows = [[turn.button("scores.keep_round1", make("r2k", a, i))]]
    rows += [buttons[n : n + PER_ROW] for n in range(0, len(buttons), PER_ROW)]
    rows.append([turn.button("scores.round2_back", make("r2", a))])
    turn.set_state("round2", a=a, item=i)
    turn.remember(typed=True)
    turn.say(text, rows, edit=True)


async def keep_round1(turn: Turn, token: Token) -> None:
    found = await _explained(turn, token.int_arg(0), token.int_arg(1))
    if found is None:
        return
    assignment, submission, checklist, _view, v = found
    await _decide(turn, assignment, submission, checklist, v, v.rule.round1 or 0.0, None)


async def pressed_round2_score(turn: Turn, token: Token) -> None:
    found = await _explained(turn, token.int_arg(0), token.int_arg(1))
    if found is None:
        return
    assignment, submission, checklist, _view, v = found
    values = step_choices(v.item.points, checklist.scoring.score_step)
    index = token.int_arg(2)
    if index is None or index >= len(values):
        await stale_button(turn)
        return
    await _chosen(turn, assignment, submission, checklist, v, values[index])


async def typed_round2(turn: Turn) -> None:
    data = turn.state.data
    found = await _explained(turn, data.get("a"), data.get("item"))
    if found is None:
        turn.set_state("idle")
        return
    assignment, submission, checklist, _view, v = found
    if turn.state.state == "round2_reason":
        reason = turn.inbound.text.strip()[:REASON_LIMIT]
        await _decide(
            turn, assignment, submission, checklist, v, float(data.get("value", 0)), reason
        )
        return
    step = checklist.scoring.score_step
    check = read_self_score(turn.inbound.text, v.item.points, step)
    if check.value is None:
        turn.say(
            turn.t(
                f"scores.problem.{check.problem}",
                max=score_text(turn, v.item.points),
                step=score_text(turn, step),
            )
        )
        return
    await _chosen(turn, assignment, submission, checklist, v, check.value)


async def _chosen(
    turn: Turn,
    assignment: Assignment,
    submission: Submission,
    checklist: Checklist,
    v: ItemView,
    value: float,
) -> None:
    """A round-2 score: the same as round 1 is a confirmation; another one needs a reason."""
    if abs(value - (v.rule.round1 or 0.0)) < 1e-9:
        await _decide(turn, assignment, submission, checklist, v, value, None)
        return
    turn.set_state("round2_reason", a=assignment.id, item=v.item.id, value=value)
    turn.remember(typed=False)
    turn.say(turn.t("scores.round2_reason_ask", code=escape(v.item.code)))


async def _decide(
    turn: Turn,
    assignment: Assignment,
    submission: Submission,
    checklist: Checklist,
    v: ItemView,
    value: float,
    reason: str | None,
) -> None:
    try:
        view = await decide_item(
            turn.session,
            submission,
            checklist,
            v.item.id,
            value,
            reason,
            person_id=turn.person.id,
            now=turn.now,
        )
    except RoundError as error:
        turn.set_state("idle")
        _refused(turn, error)
        return
    if view.final:
        turn.wrote_outbox = True
    saved = turn.t("scores.round2_saved", code=escape(v.item.code), score=score_text(turn, value))
    await _show_round2(turn, assignment, view, prefix=saved + "\n\n")


CHOICES = {
    "a1": ask_round1,
    "a1c": confirm_round1,
    "r2": round2_list,
    "r2i": round2_item,
    "r2k": keep_round1,
    "r2s": pressed_round2_score,
}
STATE_TEXT = {"round2": typed_round2, "round2_reason": typed_round2}

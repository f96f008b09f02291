"""Reviewing a submitted report in chat: ask for more on items and return it (leaders and
members), accept it and appraise item scores (leaders)."""

from __future__ import annotations

from html import escape

from common.messages import Choice
from handlers.access import assignment_in_scope
from handlers.cards import pager, short
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.self_score_card import needs_self_score, self_score_line
from handlers.tokens import Token, make
from storage.db.models import Assignment, Submission, SubmissionStatus
from storage.rules.answers import parse_number
from storage.rules.scoring import fmt_points
from storage.services.appraisal_rounds import round_of
from storage.services.checklist import ItemInfo
from storage.services.review import (
    ReviewError,
    accept_report,
    appraise_item,
    flag_item,
    item_scores,
    pending_flags,
    return_report,
    unflag_item,
)
from storage.services.self_scores import self_scores
from storage.services.submissions import submission_for

PAGE = 8
COMMENT_LIMIT = 1000
CLEAR = "-"


async def _target(
    turn: Turn, assignment_id: int | None, action: str, need: str
) -> tuple[Assignment, Submission] | None:
    assignment = await assignment_in_scope(turn, assignment_id, action, need=need)
    if assignment is None:
        return None
    return assignment, await submission_for(turn.session, assignment.id)


async def _not_submitted(turn: Turn, submission: Submission) -> bool:
    if submission.status == SubmissionStatus.SUBMITTED:
        return False
    text = turn.t("team.not_submitted_now", state=turn.t(f"status.state.{submission.status}"))
    turn.say(text, toast=text)
    return True


# -- ask for more, return ------------------------------------------------------------------


async def flag_list(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.flag", "reviews")
    if found is None or await _not_submitted(turn, found[1]):
        return
    await _show_flags(turn, *found, page=max(0, token.int_arg(1) or 0), edit=True)


async def _show_flags(
    turn: Turn,
    assignment: Assignment,
    submission: Submission,
    *,
    page: int = 0,
    edit: bool = False,
    prefix: str = "",
) -> None:
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    flagged = {f.item_id: f for f in await pending_flags(turn.session, submission.id)}
    items = checklist.items[page * PAGE : (page + 1) * PAGE]
    lines = [turn.t("team.flag_title", unit=escape(assignment.unit.name))]
    lines += [
        f"🔁 <b>{escape(item.code)}</b>: {escape(flagged[item.id].comment)}"
        for item in checklist.items
        if item.id in flagged
    ]
    rows = [
        [
            Choice(
                f"{'🔁' if i.id in flagged else '▫️'} {i.code} {short(i.text, 40)}",
                make("fi", assignment.id, i.id),
            )
        ]
        for i in items
    ]
    rows += pager(turn, page, len(checklist.items), PAGE, "rf", assignment.id)
    if flagged:
        rows.append([turn.button("team.return", make("rt", assignment.id), count=len(flagged))])
    rows.append([turn.button("team.back_to_unit", make("ru", assignment.id))])
    turn.say(prefix + "\n".join(lines), rows, edit=edit)


async def _item(turn: Turn, assignment: Assignment, item_id: int | None) -> ItemInfo | None:
    """An item of the unit's checklist; a stale button gets the usual answer."""
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    item = checklist.by_id(item_id or 0)
    if item is None:
        await stale_button(turn)
    return item


async def flag_one(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.flag", "reviews")
    if found is None or await _not_submitted(turn, found[1]):
        return
    item = await _item(turn, found[0], token.int_arg(1))
    if item is None:
        return
    turn.set_state("flag", a=found[0].id, item=item.id)
    turn.say(
        turn.t(
            "team.flag_ask", code=escape(item.code), text=escape(short(item.text, 120)), clear=CLEAR
        )
    )


async def typed_flag(turn: Turn) -> None:
    found = await _target(turn, turn.state.data.get("a"), "review.flag", "reviews")
    if found is None or await _not_submitted(turn, found[1]):
        turn.set_state("idle")
        return
    assignment, submission = found
    item_id = int(turn.state.data.get("item") or 0)
    comment = turn.inbound.text.strip()
    if len(comment) > COMMENT_LIMIT or not comment:
        turn.say(turn.t("team.comment_too_long", max=COMMENT_LIMIT, length=len(comment)))
        return
    if comment == CLEAR:
        await unflag_item(turn.session, submission, item_id)
    else:
        await flag_item(
            turn.session, submission, item_id, comment, person_id=turn.person.id, now=turn.now
        )
    turn.set_state("idle")
    await _show_flags(turn, assignment, submission, prefix=turn.t("team.flag_saved") + "\n\n")


async def ask_return(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.return", "reviews")
    if found is None or await _not_submitted(turn, found[1]):
        return
    count = len(await pending_flags(turn.session, found[1].id))
    turn.say(
        turn.t("team.return_confirm", unit=escape(found[0].unit.name), count=count),
        [
            [
                turn.button("team.return_yes", make("rtc", found[0].id, found[1].version)),
                turn.button("common.cancel", make("rf", found[0].id, 0)),
            ]
        ],
        edit=True,
    )


async def confirm_return(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.return", "reviews")
    if found is None or await _not_submitted(turn, found[1]):
        return
    assignment, submission = found
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    try:
        flags = await return_report(
            turn.session, submission, checklist, person_id=turn.person.id, now=turn.now
        )
    except ReviewError as error:
        turn.say(turn.t(f"team.refused.{error.reason.value}"))
        return
    turn.wrote_outbox = True
    turn.say(
        turn.t("team.returned", unit=escape(assignment.unit.name), count=len(flags)), edit=True
    )


# -- accept, appraise --------------------------------------------------------------------


async def ask_accept(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.accept", "leads")
    if found is None or await _not_submitted(turn, found[1]):
        return
    turn.say(
        turn.t("team.accept_confirm", unit=escape(found[0].unit.name)),
        [
            [
                turn.button("team.accept_yes", make("acc", found[0].id, found[1].version)),
                turn.button("common.cancel", make("ru", found[0].id)),
            ]
        ],
        edit=True,
    )


async def confirm_accept(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.accept", "leads")
    if found is None or await _not_submitted(turn, found[1]):
        return
    assignment, submission = found
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    total = await accept_report(
        turn.session, submission, checklist, person_id=turn.person.id, now=turn.now
    )
    turn.wrote_outbox = True
    turn.say(
        turn.t(
            "team.accepted",
            unit=escape(assignment.unit.name),
            score=fmt_points(total, turn.tr),
            max=fmt_points(checklist.max_score, turn.tr),
        ),
        [[turn.button("team.appraise", make("ap", assignment.id, 0))]],
        edit=True,
    )


async def appraise_list(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.appraise", "leads")
    if found is None:
        return
    assignment, submission = found
    page = max(0, token.int_arg(1) or 0)
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    scores = {s.item_id: s for s in await item_scores(turn.session, submission, checklist)}
    scored = [i for i in checklist.items if i.points > 0]
    shown = scored[page * PAGE : (page + 1) * PAGE]
    rows = []
    for item in shown:
        s = scores[item.id]
        mark = "✎" if s.appraised is not None else ""
        final, points = fmt_points(s.final, turn.tr), fmt_points(item.points, turn.tr)
        rows.append(
            [
                Choice(
                    f"{item.code}: {final}/{points} {mark}".strip(),
                    make("ai", assignment.id, item.id),
                )
            ]
        )
    rows += pager(turn, page, len(scored), PAGE, "ap", assignment.id)
    rows += await round_buttons(turn, assignment, submission)
    rows.append([turn.button("team.back_to_unit", make("ru", assignment.id))])
    total = sum(s.final for s in scores.values())
    turn.say(
        turn.t(
            "team.appraise_title",
            unit=escape(assignment.unit.name),
            score=fmt_points(total, turn.tr),
            max=fmt_points(checklist.max_score, turn.tr),
        ),
        rows,
        edit=True,
    )


async def round_buttons(
    turn: Turn, assignment: Assignment, submission: Submission
) -> list[list[Choice]]:
    """Send round 1 to the unit (an accepted report), or, once sent, round 2."""
    if await round_of(turn.session, submission.id) is not None:
        return [[turn.button("scores.round2_button", make("r2", assignment.id))]]
    if submission.status == SubmissionStatus.ACCEPTED:
        return [[turn.button("scores.round1_button", make("a1", assignment.id))]]
    return []


async def appraise_one(turn: Turn, token: Token) -> None:
    found = await _target(turn, token.int_arg(0), "review.appraise", "leads")
    if found is None:
        return
    item = await _item(turn, found[0], token.int_arg(1))
    if item is None:
        return
    checklist = await turn.deps.checklists.get(turn.session, found[0].campaign_id)
    scores = {s.item_id: s for s in await item_scores(turn.session, found[1], checklist)}
    turn.set_state("appraise", a=found[0].id, item=item.id)
    turn.remember(typed=True)
    own = scores[item.id].self_score
    text = turn.t(
        "team.appraise_ask",
        code=escape(item.code),
        self=fmt_points(own, turn.tr),
        max=fmt_points(item.points, turn.tr),
    )
    if needs_self_score(item):  # the unit's reason for the score it proposed
        given = (await self_scores(turn.session, found[1].id)).get(item.id)
        text += "\n" + self_score_line(turn, item, given)
    turn.say(text)


async def typed_appraisal(turn: Turn) -> None:
    data = turn.state.data
    found = await _target(turn, data.get("a"), "review.appraise", "leads")
    if found is None:
        turn.set_state("idle")
        return
    assignment, submission = found
    checklist = await turn.deps.checklists.get(turn.session, assignment.campaign_id)
    item = checklist.by_id(int(data.get("item") or 0))
    if item is None:
        turn.set_state("idle")
        return
    if turn.state.state == "appraise":
        value = parse_number(turn.inbound.text.strip(), dot_may_group=False)
        if value is None or not 0 <= value <= item.points:
            turn.say(turn.t("team.bad_score", max=fmt_points(item.points, turn.tr)))
            return
        self_score = {s.item_id: s for s in await item_scores(turn.session, submission, checklist)}[
            item.id
        ].self_score
        if abs(value - self_score) > 1e-9:
            turn.set_state("appraise_reason", a=assignment.id, item=item.id, value=value)
            turn.say(turn.t("team.reason_ask", code=escape(item.code)))
            return
        reason = None
    else:
        value, reason = float(data.get("value", 0)), turn.inbound.text.strip()[:COMMENT_LIMIT]
    try:
        total = await appraise_item(
            turn.session,
            submission,
            checklist,
            item.id,
            value,
            reason,
            person_id=turn.person.id,
            now=turn.now,
        )
    except ReviewError as error:  # round 1 went to the unit meanwhile: its scores are fixed
        turn.set_state("idle")
        turn.say(turn.t(f"scores.refused.{error.reason.value}"))
        return
    turn.set_state("idle")
    turn.say(
        turn.t(
            "team.appraised_saved",
            code=escape(item.code),
            score=fmt_points(value, turn.tr),
            total=fmt_points(total, turn.tr),
            max=fmt_points(checklist.max_score, turn.tr),
        ),
        [[turn.button("team.appraise", make("ap", assignment.id, item.index // PAGE))]],
    )


CHOICES = {
    "rf": flag_list,
    "fi": flag_one,
    "rt": ask_return,
    "rtc": confirm_return,
    "ac": ask_accept,
    "acc": confirm_accept,
    "ap": appraise_list,
    "ai": appraise_one,
}

STATE_TEXT = {"flag": typed_flag, "appraise": typed_appraisal, "appraise_reason": typed_appraisal}

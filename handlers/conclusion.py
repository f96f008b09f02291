"""The leader records a unit's conclusion in chat, step by step, and issues it.

From the unit's card ("Kết luận"): the draft is shown with what it holds; the leader writes
the strengths (ưu điểm), adds shortcomings one at a time (the shortcoming, then the fix
required, then the due date: 15 days by default, or a typed dd/mm/yyyy), removes one if
needed, and issues the notice. Issuing writes the .docx, freezes the conclusion and sends
the document to the unit's contacts (storage/services/conclusion_notice.py).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date
from html import escape

from common.localtime import fmt_date
from common.messages import Choice, OutFile
from handlers.access import assignment_in_scope
from handlers.cards import short
from handlers.context import Turn
from handlers.tokens import Token, make
from storage.db.models import Assignment, Conclusion, FixStatus, Shortcoming
from storage.rules.answers import split_date
from storage.services.carry_over import earlier_tasks
from storage.services.conclusion_notice import issue_conclusion, notice_file_name
from storage.services.conclusions import (
    TEXT_LIMIT,
    ConclusionError,
    add_shortcoming,
    conclusion_of,
    default_due,
    local_day,
    remove_shortcoming,
    set_strengths,
)

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def _unit(turn: Turn, assignment_id: object) -> Assignment | None:
    number = assignment_id if isinstance(assignment_id, int) else None
    return await assignment_in_scope(turn, number, "conclusion", need="leads")


async def show(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is not None:
        await show_draft(turn, assignment, edit=True)


async def show_draft(
    turn: Turn, assignment: Assignment, *, edit: bool = False, prefix: str = ""
) -> None:
    conclusion = await conclusion_of(turn.session, assignment.id)
    a = assignment.id
    lines = [turn.t("conclusion.title", unit=escape(assignment.unit.name))]
    lines += _body(turn, conclusion)
    lines += await earlier_lines(turn, assignment.id)
    rows: list[list[Choice]] = []
    if conclusion is not None and conclusion.issued_at is not None:
        lines.append(
            turn.t(
                "conclusion.issued_on",
                date=fmt_date(conclusion.issued_at, assignment.campaign.timezone),
            )
        )
    else:
        rows = [
            [turn.button("conclusion.strengths_button", make("kls", a))],
            [turn.button("conclusion.add_button", make("kla", a))],
        ]
        for s in conclusion.shortcomings if conclusion else []:
            rows.append(
                [turn.button("conclusion.remove_button", make("klr", a, s.id), n=s.position)]
            )
        if conclusion is not None and (conclusion.strengths or conclusion.shortcomings):
            rows.append([turn.button("conclusion.issue_button", make("kli", a))])
    rows.append([turn.button("team.back_to_unit", make("ru", a))])
    turn.say(prefix + "\n".join(lines), rows, edit=edit)


async def earlier_lines(turn: Turn, assignment_id: int) -> list[str]:
    """In a follow-up campaign: the unit's shortcomings of the earlier one, open and closed."""
    found = await earlier_tasks(turn.session, assignment_id)
    if found is None:
        return []
    campaign, old = found
    fixed = sum(1 for s in old if s.status == FixStatus.FIXED)
    lines = [
        turn.t("remediation.earlier_title", campaign=escape(campaign), fixed=fixed, total=len(old))
    ]
    return lines + [task_line(turn, s) for s in old]


def task_line(turn: Turn, s: Shortcoming) -> str:
    return turn.t(
        "remediation.task_line",
        mark=MARK.get(FixStatus(s.status), "⬜"),
        n=s.position,
        text=escape(short(s.text, 80)),
        due=fmt_date(s.due_on),
        state=turn.t(f"remediation.state.{s.status}"),
    )


MARK = {FixStatus.OPEN: "⬜", FixStatus.REPORTED: "⏳", FixStatus.FIXED: "✅"}


def _body(turn: Turn, conclusion: Conclusion | None) -> list[str]:
    if conclusion is None or not (conclusion.strengths or conclusion.shortcomings):
        return [turn.t("conclusion.empty")]
    lines = [turn.t("conclusion.strengths", text=escape(conclusion.strengths or "—"))]
    for s in conclusion.shortcomings:
        lines.append(
            turn.t(
                "conclusion.shortcoming_line",
                n=s.position,
                text=escape(s.text),
                fix=escape(s.fix),
                due=fmt_date(s.due_on),
            )
        )
    return lines


async def ask_strengths(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    turn.set_state("kl_strengths", a=assignment.id, typed=True)
    turn.say(turn.t("conclusion.ask_strengths", max=TEXT_LIMIT))


async def ask_shortcoming(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    turn.set_state("kl_text", a=assignment.id, typed=True)
    turn.say(turn.t("conclusion.ask_text", max=TEXT_LIMIT))


def _typed(turn: Turn) -> str | None:
    """The typed text, or None after saying it is empty or too long (the step stays)."""
    text = turn.inbound.text.strip()
    if not text or len(text) > TEXT_LIMIT:
        turn.say(turn.t("conclusion.bad_text", max=TEXT_LIMIT, length=len(text)))
        return None
    return text


async def typed(turn: Turn) -> None:
    """The typed answer of the step the leader is at."""
    data, step = turn.state.data, turn.state.state
    assignment = await _unit(turn, data.get("a"))
    if assignment is None:
        turn.set_state("idle")
        return
    if step == "kl_due":
        await _typed_due(turn, assignment)
        return
    text = _typed(turn)
    if text is None:
        return
    if step == "kl_strengths":
        write = set_strengths(
            turn.session, assignment, text, person_id=turn.person.id, now=turn.now
        )
        await _saved(turn, assignment, write)
    elif step == "kl_text":
        turn.set_state("kl_fix", a=assignment.id, text=text, typed=True)
        turn.say(turn.t("conclusion.ask_fix", max=TEXT_LIMIT))
    else:  # kl_fix
        due = default_due(turn.now, assignment.campaign.timezone)
        turn.set_state("kl_due", a=assignment.id, text=data.get("text", ""), fix=text, typed=True)
        turn.say(
            turn.t("conclusion.ask_due", due=fmt_date(due)),
            [
                [
                    turn.button(
                        "conclusion.due_default", make("kld", assignment.id), due=fmt_date(due)
                    )
                ]
            ],
        )


async def _saved(turn: Turn, assignment: Assignment, write: Awaitable[object]) -> None:
    try:
        await write
    except ConclusionError as error:
        turn.set_state("idle")
        turn.say(turn.t(f"conclusion.refused.{error.reason.value}"))
        return
    turn.set_state("idle")
    await show_draft(turn, assignment, prefix=turn.t("conclusion.saved") + "\n\n")


async def _typed_due(turn: Turn, assignment: Assignment) -> None:
    parts = split_date(turn.inbound.text.strip())
    try:
        due = date(parts[2], parts[1], parts[0]) if parts else None
    except ValueError:
        due = None
    today = local_day(turn.now, assignment.campaign.timezone)
    if due is None or due < today:
        turn.say(turn.t("conclusion.bad_due", today=fmt_date(today)))
        return
    await _add(turn, assignment, due)


async def default_due_pressed(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    if turn.state.state != "kl_due" or turn.state.data.get("a") != assignment.id:
        text = turn.t("conclusion.step_gone")
        turn.say(text, toast=text)
        return
    await _add(turn, assignment, default_due(turn.now, assignment.campaign.timezone))


async def _add(turn: Turn, assignment: Assignment, due: date) -> None:
    data = turn.state.data
    write = add_shortcoming(
        turn.session,
        assignment,
        text=str(data.get("text", "")),
        fix=str(data.get("fix", "")),
        due_on=due,
        person_id=turn.person.id,
        now=turn.now,
    )
    await _saved(turn, assignment, write)


async def remove(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    write = remove_shortcoming(
        turn.session, assignment, token.int_arg(1) or 0, person_id=turn.person.id, now=turn.now
    )
    await _saved(turn, assignment, write)


async def ask_issue(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    conclusion = await conclusion_of(turn.session, assignment.id)
    count = len(conclusion.shortcomings) if conclusion else 0
    turn.say(
        turn.t("conclusion.issue_confirm", unit=escape(assignment.unit.name), count=count),
        [
            [
                turn.button("conclusion.issue_yes", make("klc", assignment.id)),
                turn.button("common.cancel", make("kl", assignment.id)),
            ]
        ],
        edit=True,
    )


async def confirm_issue(turn: Turn, token: Token) -> None:
    assignment = await _unit(turn, token.int_arg(0))
    if assignment is None:
        return
    conclusion = await conclusion_of(turn.session, assignment.id)
    if conclusion is None:
        await show_draft(turn, assignment, edit=True)
        return
    already = conclusion.issued_at is not None
    try:
        path, sent = await issue_conclusion(
            turn.session,
            assignment,
            conclusion,
            turn.deps.notice,
            turn.deps.evidence.root,
            person_id=turn.person.id,
            now=turn.now,
        )
    except ConclusionError as error:
        turn.say(turn.t(f"conclusion.refused.{error.reason.value}"))
        return
    turn.wrote_outbox = True
    key = "conclusion.issued_again" if already else "conclusion.issued"
    turn.say(
        turn.t(key, unit=escape(assignment.unit.name), count=sent),
        document=OutFile(path, notice_file_name(assignment), DOCX_MIME),
    )


CHOICES = {
    "kl": show,
    "kls": ask_strengths,
    "kla": ask_shortcoming,
    "kld": default_due_pressed,
    "klr": remove,
    "kli": ask_issue,
    "klc": confirm_issue,
}

STATE_TEXT = {"kl_strengths": typed, "kl_text": typed, "kl_fix": typed, "kl_due": typed}

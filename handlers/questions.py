"""Questions: a unit contact asks the team (/hoi); a leader or member answers by button."""

from __future__ import annotations

from html import escape

from handlers.access import assignment_in_scope
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.team import show_thread
from handlers.tokens import Token
from handlers.unit import active_unit
from storage.services import questions
from storage.services.answers_read import submission_assignment_id
from storage.services.assignments import assignment_by_id

TEXT_LIMIT = questions.TEXT_LIMIT


async def ask_command(turn: Turn) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    assert ctx.role.assignment_id is not None  # active_unit made sure
    assignment = await assignment_by_id(turn.session, ctx.role.assignment_id)
    assert assignment is not None
    await show_thread(turn, assignment, ctx.submission)
    turn.set_state("question")
    turn.say(turn.t("questions.ask", unit=escape(ctx.role.unit_name or ""), max=TEXT_LIMIT))


def _too_long(turn: Turn, text: str) -> bool:
    if text and len(text) <= TEXT_LIMIT:
        return False
    turn.say(turn.t("questions.bad_text", max=TEXT_LIMIT, length=len(text)))
    return True


async def typed_question(turn: Turn) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    text = turn.inbound.text.strip()
    if _too_long(turn, text):
        return
    assert ctx.role.assignment_id is not None  # active_unit made sure
    assignment = await assignment_by_id(turn.session, ctx.role.assignment_id)
    assert assignment is not None
    await questions.ask(
        turn.session,
        assignment,
        ctx.submission.id,
        text,
        person_id=turn.person.id,
        person_name=turn.person.full_name,
        now=turn.now,
    )
    turn.wrote_outbox = True
    turn.set_state("idle")
    turn.say(turn.t("questions.sent"))


async def answer_button(turn: Turn, token: Token) -> None:
    question = await questions.question_by_id(turn.session, token.int_arg(0) or 0)
    if question is None or question.parent_id is not None:
        await stale_button(turn)
        return
    assignment_id = await submission_assignment_id(turn.session, question.submission_id)
    assert assignment_id is not None  # a question belongs to a report
    assignment = await assignment_in_scope(turn, assignment_id, "question.answer", need="reviews")
    if assignment is None:
        return
    turn.set_state("answer_question", q=question.id)
    turn.say(
        turn.t(
            "questions.answer_ask",
            unit=escape(assignment.unit.name),
            text=escape(question.text),
            max=TEXT_LIMIT,
        )
    )


async def typed_answer(turn: Turn) -> None:
    question = await questions.question_by_id(turn.session, int(turn.state.data.get("q") or 0))
    assignment_id = (
        await submission_assignment_id(turn.session, question.submission_id) if question else None
    )
    assignment = await assignment_in_scope(turn, assignment_id, "question.answer", need="reviews")
    if assignment is None or question is None:
        turn.set_state("idle")
        return
    text = turn.inbound.text.strip()
    if _too_long(turn, text):
        return
    await questions.answer(
        turn.session,
        question,
        assignment,
        text,
        person_id=turn.person.id,
        person_name=turn.person.full_name,
        now=turn.now,
    )
    turn.wrote_outbox = True
    turn.set_state("idle")
    turn.say(turn.t("questions.answered", unit=escape(assignment.unit.name)))


CHOICES = {"qa": answer_button}
STATE_TEXT = {"question": typed_question, "answer_question": typed_answer}

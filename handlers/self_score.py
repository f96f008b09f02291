"""The unit contact's self-score (tự chấm) of an item scored by hand: a score on the
campaign's step, pressed or typed, then a short reason; then the checklist goes on."""

from __future__ import annotations

from html import escape

from handlers.checklist import after_answer, refused
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.self_score_card import ask_self_score, choices_of, needs_self_score, score_text
from handlers.tokens import Token
from handlers.unit import UnitContext, active_unit
from storage.rules.self_score import read_self_score
from storage.services.checklist import ItemInfo
from storage.services.self_scores import REASON_LIMIT, record_self_score
from storage.services.submissions import answer_states


async def _scored_item(turn: Turn, item_id: object) -> tuple[UnitContext, ItemInfo] | None:
    ctx = await active_unit(turn)
    if ctx is None:
        return None
    item = ctx.checklist.by_id(int(item_id or 0)) if isinstance(item_id, int | str) else None
    if item is None or not needs_self_score(item):
        await stale_button(turn)
        return None
    if await refused(turn, ctx, item):
        return None
    return ctx, item


async def pressed_self_score(turn: Turn, token: Token) -> None:
    """`sa:<item>`: the card's button to give or change the self-score."""
    found = await _scored_item(turn, token.int_arg(0))
    if found:
        ask_self_score(turn, *found, edit=True)


async def pressed_score(turn: Turn, token: Token) -> None:
    """`ss:<item>:<n>`: the n-th offered score."""
    found = await _scored_item(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    values = choices_of(ctx, item)
    index = token.int_arg(1)
    if index is None or index >= len(values):
        await stale_button(turn)
        return
    _ask_reason(turn, item, values[index], edit=True)


async def typed_score(turn: Turn) -> None:
    found = await _scored_item(turn, turn.state.data.get("item"))
    if found is None:
        return
    ctx, item = found
    step = ctx.checklist.scoring.score_step
    check = read_self_score(turn.inbound.text, item.points, step)
    if check.value is None:
        problem = turn.t(
            f"scores.problem.{check.problem}",
            max=score_text(turn, item.points),
            step=score_text(turn, step),
        )
        ask_self_score(turn, ctx, item, prefix="⚠️ " + problem + "\n\n")
        return
    _ask_reason(turn, item, check.value)


def _ask_reason(turn: Turn, item: ItemInfo, value: float, *, edit: bool = False) -> None:
    turn.set_state("self_reason", item=item.id, value=value)
    turn.remember(typed=False)
    turn.say(
        turn.t(
            "scores.ask_reason",
            code=escape(item.code),
            score=score_text(turn, value),
            max=score_text(turn, item.points),
            limit=REASON_LIMIT,
        ),
        edit=edit,
    )


async def typed_reason(turn: Turn) -> None:
    found = await _scored_item(turn, turn.state.data.get("item"))
    if found is None:
        return
    ctx, item = found
    reason = turn.inbound.text.strip()
    if not reason or len(reason) > REASON_LIMIT:
        turn.say(turn.t("scores.bad_reason", limit=REASON_LIMIT, length=len(reason)))
        return
    value = float(turn.state.data.get("value") or 0.0)
    check = read_self_score(str(value), item.points, ctx.checklist.scoring.score_step)
    if check.value is None:  # the campaign's step or points changed meanwhile
        ask_self_score(turn, ctx, item)
        return
    await record_self_score(
        turn.session,
        ctx.submission,
        item,
        check.value,
        reason,
        person_id=turn.person.id,
        now=turn.now,
    )
    saved = turn.t(
        "scores.self_score_saved",
        code=escape(item.code),
        score=score_text(turn, check.value),
        max=score_text(turn, item.points),
    )
    states = await answer_states(turn.session, ctx.submission.id)
    await after_answer(turn, ctx, item, states, saved + "\n\n")


CHOICES = {"sa": pressed_self_score, "ss": pressed_score}
STATE_TEXT = {"self_score": typed_score, "self_reason": typed_reason}

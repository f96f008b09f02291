"""Asking a unit contact for the self-score (tự chấm) of an item scored by hand.

The card offers the scores of `step_choices` as buttons (every step when few, a spread when
many) and takes any other score on the campaign's step typed, with a decimal comma or point.
"""

from __future__ import annotations

from html import escape

from common.messages import Choice
from handlers.context import Turn
from handlers.tokens import make
from handlers.unit import UnitContext
from storage.db.models import SelfScore
from storage.rules.answers import format_number
from storage.rules.scoring import is_by_hand
from storage.rules.self_score import step_choices
from storage.services.checklist import ItemInfo

PER_ROW = 5


def needs_self_score(item: ItemInfo) -> bool:
    """Items scored by hand take a self-score; rule-scored ones are scored by their rule."""
    return item.points > 0 and is_by_hand(item)


def score_text(turn: Turn, value: float) -> str:
    return format_number(value, turn.tr, decimals=2)


def choices_of(ctx: UnitContext, item: ItemInfo) -> list[float]:
    return step_choices(item.points, ctx.checklist.scoring.score_step)


def ask_self_score(
    turn: Turn,
    ctx: UnitContext,
    item: ItemInfo,
    *,
    prefix: str = "",
    edit: bool = False,
    toast: str | None = None,
) -> None:
    values = choices_of(ctx, item)
    buttons = [Choice(score_text(turn, v), make("ss", item.id, n)) for n, v in enumerate(values)]
    rows = [buttons[n : n + PER_ROW] for n in range(0, len(buttons), PER_ROW)]
    rows.append([turn.button("scores.later", make("s", item.id))])
    turn.set_state("self_score", item=item.id)
    turn.remember(typed=True)
    text = turn.t(
        "scores.ask_self_score",
        code=escape(item.code),
        max=score_text(turn, item.points),
        step=score_text(turn, ctx.checklist.scoring.score_step),
    )
    turn.say(prefix + text, rows, edit=edit, toast=toast)


def self_score_line(turn: Turn, item: ItemInfo, row: SelfScore | None) -> str:
    """The card's line: the self-score given, or that one is still to give."""
    if row is None:
        return turn.t("scores.self_score_missing")
    return turn.t(
        "scores.self_score_line",
        score=score_text(turn, row.score),
        max=score_text(turn, item.points),
        reason=escape(row.reason),
    )

"""How an item looks in chat: the question card with its buttons, marks and values."""

from __future__ import annotations

from html import escape
from typing import Any, TypeVar

from common.messages import Choice
from handlers.context import Turn
from handlers.tokens import make
from handlers.unit import UnitContext
from storage.rules.answers import TEXT_MAX_LENGTH, format_number, format_value
from storage.rules.progress import AnswerState, is_answered
from storage.rules.scoring import fmt_points
from storage.services.checklist import ItemInfo

T = TypeVar("T")


def even_rows(items: list[T], per_row: int) -> list[list[T]]:
    """`items` in as few rows of at most `per_row` as possible, the rows' lengths differing
    by at most one (longer rows first): a keyboard laid out evenly, not full rows and a
    stray last button stretched across the screen when that can be helped."""
    if not items:
        return []
    count = -(-len(items) // per_row)
    size, longer = divmod(len(items), count)
    rows, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < longer else 0)
        rows.append(items[start:end])
        start = end
    return rows


def short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def points_text(turn: Turn, points: float) -> str:
    if points <= 0:
        return turn.t("checklist.not_scored")
    return turn.t("checklist.max_points", points=fmt_points(points, turn.tr))


def value_text(turn: Turn, item: ItemInfo, value: Any) -> str:
    """An answer shown back: escaped, since it may be what the person typed."""
    return escape(format_value(item, value, turn.tr))


def mark_of(item: ItemInfo, state: AnswerState | None) -> str:
    if not is_answered(state):
        return "⬜" if item.required else "▫️"
    assert state is not None
    if item.evidence == "required" and state.evidence_count == 0 and not state.note:
        return "📎"
    return "✅"


def _number(turn: Turn, value: float | None) -> str:
    return format_number(value or 0, turn.tr)


def _prompt(turn: Turn, item: ItemInfo) -> str:
    if item.type == "number" and item.min is not None and item.max is not None:
        return turn.t(
            "checklist.prompt.number_range",
            min=_number(turn, item.min),
            max=_number(turn, item.max),
        )
    if item.type == "number" and item.min is not None:
        return turn.t("checklist.prompt.number_min", min=_number(turn, item.min))
    if item.type == "number" and item.max is not None:
        return turn.t("checklist.prompt.number_max", max=_number(turn, item.max))
    if item.type == "text":
        return turn.t("checklist.prompt.text", max=item.max_length or TEXT_MAX_LENGTH)
    return turn.t(f"checklist.prompt.{item.type}")


def _evidence_line(turn: Turn, item: ItemInfo, state: AnswerState | None) -> str | None:
    if item.evidence == "none":
        return None
    count = state.evidence_count if state else 0
    line = turn.t(f"checklist.evidence_{item.evidence}", count=count)
    if state and state.note:
        line += "\n" + turn.t("checklist.note_given", note=escape(short(state.note, 200)))
    return line


def _value_buttons(turn: Turn, item: ItemInfo, selected: set[int]) -> list[list[Choice]]:
    if item.type == "yesno":
        return [
            [
                turn.button("common.yes", make("v", item.id, "y")),
                turn.button("common.no", make("v", item.id, "n")),
            ]
        ]
    if item.type == "choice":
        return [
            [Choice(short(option, 60), make("c", item.id, n))]
            for n, option in enumerate(item.options)
        ]
    if item.type == "multi":
        rows = [
            [Choice(("☑ " if n in selected else "☐ ") + short(option, 56), make("m", item.id, n))]
            for n, option in enumerate(item.options)
        ]
        return [*rows, [turn.button("checklist.multi_done", make("md", item.id))]]
    return []


def item_card(
    turn: Turn,
    ctx: UnitContext,
    item: ItemInfo,
    states: dict[int, AnswerState],
    selected: set[int],
) -> tuple[str, list[list[Choice]]]:
    state = states.get(item.id)
    total = len(ctx.checklist.items)
    lines = [
        f"<b>{escape(item.section_title)}</b>",
        turn.t(
            "checklist.position",
            n=item.index + 1,
            total=total,
            code=escape(item.code),
            points=points_text(turn, item.points),
        ),
        "",
        f"<b>{escape(item.text)}</b>",
    ]
    if item.help:
        lines.append(f"<i>{escape(item.help)}</i>")
    if is_answered(state):
        assert state is not None
        lines.append(turn.t("checklist.current", value=value_text(turn, item, state.value)))
    evidence = _evidence_line(turn, item, state)
    if evidence:
        lines.append(evidence)
    lines += ["", "👉 " + _prompt(turn, item)]
    rows = _value_buttons(turn, item, selected)
    if item.evidence != "none":
        rows.append([turn.button("checklist.add_evidence", make("e", item.id))])
    rows.append(
        [
            turn.button("checklist.previous", make("p", item.id)),
            turn.button("checklist.skip", make("s", item.id)),
        ]
    )
    rows.append(
        [
            turn.button("checklist.list", make("l", item.index // 10)),
            turn.button("checklist.review", make("r")),
        ]
    )
    return "\n".join(lines), rows


def pager(
    turn: Turn, page: int, count: int, size: int, action: str, *args: object
) -> list[list[Choice]]:
    """The ◀ / ▶ row of a paged list (empty when everything fits on one page); the page
    number is the token's last argument."""
    row = []
    if page > 0:
        row.append(turn.button("checklist.page_prev", make(action, *args, page - 1)))
    if (page + 1) * size < count:
        row.append(turn.button("checklist.page_next", make(action, *args, page + 1)))
    return [row] if row else []

"""Walking the checklist one item at a time: show, answer, move around.

Every answer is recorded in the event's transaction and acknowledged only after the commit
(see dispatcher), so what the person saw confirmed is what the database holds.
"""

from __future__ import annotations

from html import escape
from typing import Any

from common.messages import Choice
from handlers.cards import item_card, mark_of, pager, short, value_text
from handlers.context import Turn
from handlers.evidence_ask import ask_evidence
from handlers.onboarding import stale_button
from handlers.reopened_evidence import accepts_evidence
from handlers.review import show_review
from handlers.self_score_card import ask_self_score, needs_self_score, self_score_line
from handlers.tokens import Token, make
from handlers.unit import UnitContext, active_unit, roles
from storage.db.models import SubmissionStatus
from storage.rules.answers import AnswerError, parse_answer, render_error, validate_value
from storage.rules.progress import AnswerState, is_answered
from storage.services.carry_over import prefill
from storage.services.checklist import ItemInfo
from storage.services.review import unresolved_flags
from storage.services.self_scores import self_scores
from storage.services.submissions import (
    EditRefusal,
    answer_states,
    edit_refusal,
    record_answer,
    reopened_items,
)

TYPED = frozenset({"number", "percent", "date", "text"})
PAGE_SIZE = 10


# -- where to go -------------------------------------------------------------------------


async def walk(turn: Turn, ctx: UnitContext) -> list[ItemInfo]:
    """The items the person may answer: all of them, or after a return only those the team
    asked to correct."""
    if ctx.submission.status == SubmissionStatus.RETURNED:
        reopened = await reopened_items(turn.session, ctx.submission.id)
        return [item for item in ctx.checklist.items if item.id in reopened]
    return list(ctx.checklist.items)


def _neighbour(items: list[ItemInfo], item: ItemInfo, step: int) -> ItemInfo | None:
    ids = [i.id for i in items]
    if item.id not in ids:
        return items[0] if items else None
    position = ids.index(item.id) + step
    return items[position] if 0 <= position < len(items) else None


def _first_open(items: list[ItemInfo], states: dict[int, AnswerState]) -> ItemInfo | None:
    return next((i for i in items if not is_answered(states.get(i.id))), None)


async def locked_message(turn: Turn, ctx: UnitContext) -> bool:
    """Tell the person a submitted or accepted report cannot change; True when locked."""
    status = ctx.submission.status
    if status in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED):
        turn.set_state("idle")
        turn.say(
            turn.t(f"checklist.locked_{status}"),
            [[turn.button("onboarding.button_status", make("st"))]],
        )
        return True
    return False


# -- showing an item ---------------------------------------------------------------------


async def show_item(
    turn: Turn,
    ctx: UnitContext,
    item: ItemInfo,
    *,
    edit: bool = False,
    prefix: str = "",
    states: dict[int, AnswerState] | None = None,
) -> None:
    states = states if states is not None else await answer_states(turn.session, ctx.submission.id)
    selected = _selected(turn, item, states)
    text, choices = item_card(turn, ctx, item, states, selected)
    text = await _team_comment(turn, ctx, item) + text
    if item.evidence == "none" and await accepts_evidence(turn, ctx, item):
        # before the two navigation rows, where the card puts it for other items
        choices.insert(
            len(choices) - 2, [turn.button("checklist.add_evidence", make("e", item.id))]
        )
    if needs_self_score(item):
        own = (await self_scores(turn.session, ctx.submission.id)).get(item.id)
        head, mark, prompt = text.rpartition("\n\n👉 ")  # the line goes above the prompt
        text = f"{head}\n{self_score_line(turn, item, own)}{mark}{prompt}" if mark else text
        choices.insert(
            len(choices) - 2, [turn.button("scores.self_score_button", make("sa", item.id))]
        )
    if item.type == "multi":
        turn.set_state("multi", item=item.id, sel=sorted(selected))
    else:
        turn.set_state("answer", item=item.id)
    turn.remember(typed=item.type in TYPED)
    turn.say(prefix + text, choices, edit=edit)


async def _team_comment(turn: Turn, ctx: UnitContext, item: ItemInfo) -> str:
    """After a return for correction, the reopened item's card starts with what the team
    asked (the comment the unit must act on), not only in the one return notice."""
    if ctx.submission.status != SubmissionStatus.RETURNED:
        return ""
    flags = await unresolved_flags(turn.session, ctx.submission.id)
    comments = [escape(f.comment) for f in flags if f.item_id == item.id]
    if not comments:
        return ""
    return turn.t("edges.team_comment", comment="\n".join(comments)) + "\n\n"


def _selected(turn: Turn, item: ItemInfo, states: dict[int, AnswerState]) -> set[int]:
    """Options ticked on a multi item: the toggles in progress, else the saved answer."""
    data = turn.state.data
    if data.get("item") == item.id and "sel" in data:
        return {int(i) for i in data["sel"]}
    saved = states.get(item.id)
    values = saved.value if saved and isinstance(saved.value, list) else []
    return {item.options.index(v) for v in values if v in item.options}


async def resume(turn: Turn) -> None:
    """/checklist and "continue": the item in progress, else the first unanswered one."""
    ctx = await active_unit(turn)
    if ctx is None or await locked_message(turn, ctx):
        return
    # A follow-up campaign answers some items from the earlier one (issue 18).
    await prefill(
        turn.session, ctx.submission, ctx.checklist, person_id=turn.person.id, now=turn.now
    )
    items = await walk(turn, ctx)
    states = await answer_states(turn.session, ctx.submission.id)
    current = ctx.checklist.by_id(turn.state.data.get("item") or 0)
    if current is None or current not in items:
        current = _first_open(items, states)
        if current is None and ctx.submission.status == SubmissionStatus.RETURNED and items:
            current = items[0]  # returned items are answered already: start with them
    if current is None:
        await show_review(turn, ctx=ctx)
        return
    await show_item(turn, ctx, current, states=states)


# -- answering ----------------------------------------------------------------------------


async def _context_for(turn: Turn, item_id: int | None) -> tuple[UnitContext, ItemInfo] | None:
    """The active unit and the item a button or typed answer is about; None when stale."""
    ctx = await active_unit(turn)
    if ctx is None:
        return None
    item = ctx.checklist.by_id(item_id or 0)
    if item is None:
        await stale_button(turn)
        return None
    return ctx, item


async def refused(turn: Turn, ctx: UnitContext, item: ItemInfo) -> bool:
    refusal = await edit_refusal(turn.session, ctx.submission, item.id)
    if refusal is None:
        return False
    if refusal == EditRefusal.NOT_REOPENED:
        text = turn.t("checklist.not_reopened", code=escape(item.code))
        turn.say(text, toast=text)
        return True
    await locked_message(turn, ctx)
    return True


async def save_answer(
    turn: Turn, ctx: UnitContext, item: ItemInfo, value: Any, *, pressed: bool
) -> None:
    if await refused(turn, ctx, item):
        return
    await record_answer(
        turn.session, ctx.submission, item, value, person_id=turn.person.id, now=turn.now
    )
    states = await answer_states(turn.session, ctx.submission.id)
    saved = turn.t("checklist.saved", code=escape(item.code), value=value_text(turn, item, value))
    if needs_self_score(item):  # the unit proposes the score no rule can give
        toast = turn.t("checklist.saved_toast") if pressed else None
        ask_self_score(turn, ctx, item, prefix=saved + "\n\n", edit=pressed, toast=toast)
        return
    if pressed:
        toast = turn.t("checklist.saved_toast")
        if _asks_evidence(item, states):  # this item's evidence is next: one card says both
            ask_evidence(turn, item, prefix=saved + "\n\n", edit=True, toast=toast)
            return
        # The pressed card turns into the next one, the saved answer on top: one edit
        # instead of an edit and a new message (the same shape a typed answer gets).
        before = len(turn.replies)
        await show_next(turn, ctx, item, states, prefix=saved + "\n\n", edit=True)
        for reply in turn.replies[before : before + 1]:
            reply.toast = toast
        return
    await after_answer(turn, ctx, item, states, saved + "\n\n")


def _asks_evidence(item: ItemInfo, states: dict[int, AnswerState]) -> bool:
    """An answered item that takes evidence and has neither a file nor an explanation."""
    state = states.get(item.id)
    return (
        item.evidence != "none"
        and state is not None
        and state.evidence_count == 0
        and not state.note
    )


async def after_answer(
    turn: Turn, ctx: UnitContext, item: ItemInfo, states: dict[int, AnswerState], prefix: str
) -> None:
    if _asks_evidence(item, states):
        ask_evidence(turn, item, prefix=prefix)
        return
    await show_next(turn, ctx, item, states, prefix=prefix)


async def show_next(
    turn: Turn,
    ctx: UnitContext,
    item: ItemInfo,
    states: dict[int, AnswerState],
    *,
    prefix: str = "",
    edit: bool = False,
) -> None:
    items = await walk(turn, ctx)
    following = _neighbour(items, item, +1)
    if following is None:
        following = _first_open(items, states)
    if following is None:
        await show_review(turn, ctx=ctx, prefix=prefix, edit=edit)
        return
    await show_item(turn, ctx, following, prefix=prefix, states=states, edit=edit)


async def typed_answer(turn: Turn) -> None:
    found = await _context_for(turn, turn.state.data.get("item"))
    if found is None:
        return
    ctx, item = found
    parsed = parse_answer(item, turn.inbound.text)
    if isinstance(parsed, AnswerError):
        # A clear message, then the same question again.
        await show_item(turn, ctx, item, prefix=_error_line(turn, parsed))
        return
    await save_answer(turn, ctx, item, parsed.value, pressed=False)


def _error_line(turn: Turn, error: AnswerError) -> str:
    return "⚠️ " + escape(render_error(error, turn.tr)) + "\n\n"


async def pressed_value(turn: Turn, token: Token) -> None:
    found = await _context_for(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    value = _button_value(item, token)
    if value is None or validate_value(item, value) is not None:
        await stale_button(turn)
        return
    await save_answer(turn, ctx, item, value, pressed=True)


def _button_value(item: ItemInfo, token: Token) -> Any:
    if token.action == "v" and item.type == "yesno" and len(token.args) > 1:
        return {"y": True, "n": False}.get(token.args[1])
    index = token.int_arg(1)
    if (
        token.action == "c"
        and item.type == "choice"
        and index is not None
        and 0 <= index < len(item.options)
    ):
        return item.options[index]
    return None


async def toggle_option(turn: Turn, token: Token) -> None:
    found = await _context_for(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    index = token.int_arg(1)
    if item.type != "multi" or index is None or not 0 <= index < len(item.options):
        await stale_button(turn)
        return
    if await refused(turn, ctx, item):
        return
    states = await answer_states(turn.session, ctx.submission.id)
    selected = _selected(turn, item, states) ^ {index}
    turn.set_state("multi", item=item.id, sel=sorted(selected))
    await show_item(turn, ctx, item, edit=True, states=states)


async def multi_done(turn: Turn, token: Token) -> None:
    found = await _context_for(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    states = await answer_states(turn.session, ctx.submission.id)
    chosen = sorted(_selected(turn, item, states))
    await save_answer(turn, ctx, item, [item.options[i] for i in chosen], pressed=True)


# -- moving around -----------------------------------------------------------------------


async def _go(turn: Turn, token: Token, step: int) -> None:
    found = await _context_for(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    if await locked_message(turn, ctx):
        return
    items = await walk(turn, ctx)
    target = item if step == 0 else _neighbour(items, item, step)
    if step == 0 and item not in items:
        turn.say(turn.t("checklist.not_reopened", code=escape(item.code)))
        return
    if target is None and step > 0:
        states = await answer_states(turn.session, ctx.submission.id)
        await show_review(turn, ctx=ctx, edit=True, states=states)
        return
    if target is None:
        turn.say("", toast=turn.t("checklist.first_item"))  # a toast only; no new message
        return
    await show_item(turn, ctx, target, edit=True)


async def previous_item(turn: Turn, token: Token) -> None:
    await _go(turn, token, -1)


async def skip_item(turn: Turn, token: Token) -> None:
    await _go(turn, token, +1)


async def go_to_item(turn: Turn, token: Token) -> None:
    await _go(turn, token, 0)


async def continue_checklist(turn: Turn, token: Token) -> None:
    await resume(turn)


async def pick_unit(turn: Turn, token: Token) -> None:
    chosen = token.int_arg(0)
    linked = await roles(turn)
    if not any(r.membership_id == chosen for r in linked):
        await stale_button(turn)
        return
    turn.set_state("idle", role=chosen)
    turn.remember(role=chosen)
    item = token.int_arg(1)  # a reminder's jump to the first item still missing
    if item is not None:
        turn.remember(item=item)
    await resume(turn)


async def list_items(turn: Turn, token: Token) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    page = max(0, token.int_arg(0) or 0)
    states = await answer_states(turn.session, ctx.submission.id)
    items = ctx.checklist.items
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(page, pages - 1)
    shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines = [turn.t("checklist.list_title", page=page + 1, pages=pages)]
    section = None
    for item in shown:
        if item.section_id != section:
            section = item.section_id
            lines.append(f"\n<b>{escape(short(item.section_title, 60))}</b>")
        lines.append(
            f"{mark_of(item, states.get(item.id))} <b>{escape(item.code)}</b> "
            f"{escape(short(item.text, 48))}"
        )
    lines.append("\n" + turn.t("checklist.list_legend"))
    buttons = [Choice(f"{mark_of(i, states.get(i.id))} {i.code}", make("g", i.id)) for i in shown]
    rows = [buttons[n : n + 5] for n in range(0, len(buttons), 5)]
    rows += pager(turn, page, len(items), PAGE_SIZE, "l")
    rows.append(
        [turn.button("checklist.sections", make("ls")), turn.button("checklist.review", make("r"))]
    )
    turn.say("\n".join(lines), rows, edit=True)


async def list_sections(turn: Turn, token: Token) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    states = await answer_states(turn.session, ctx.submission.id)
    rows = []
    for section in ctx.checklist.sections:
        items = ctx.checklist.items[section.first_index : section.first_index + section.count]
        done = sum(1 for i in items if is_answered(states.get(i.id)))
        label = f"{short(section.title, 44)} ({done}/{section.count})"
        rows.append([Choice(label, make("j", section.id))])
    rows.append([turn.button("checklist.list", make("l", 0))])
    turn.say(turn.t("checklist.sections_title"), rows, edit=True)


async def jump_to_section(turn: Turn, token: Token) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    section_id = token.int_arg(0)
    section = next((s for s in ctx.checklist.sections if s.id == section_id), None)
    if section is None:
        await stale_button(turn)
        return
    if await locked_message(turn, ctx):
        return
    first = ctx.checklist.items[section.first_index]
    await show_item(turn, ctx, first, edit=True)


CHOICES = {
    "v": pressed_value,
    "c": pressed_value,
    "m": toggle_option,
    "md": multi_done,
    "p": previous_item,
    "s": skip_item,
    "g": go_to_item,
    "k": continue_checklist,
    "pick": pick_unit,
    "l": list_items,
    "ls": list_sections,
    "j": jump_to_section,
}

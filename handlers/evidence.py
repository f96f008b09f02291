"""Evidence (tài liệu kiểm chứng): files and photos for an item, or an explanation
(giải trình) of why there is none."""

from __future__ import annotations

from html import escape

from common.sizes import fmt_size
from handlers.checklist import show_item, show_next
from handlers.context import Turn
from handlers.evidence_ask import ask_evidence, evidence_buttons
from handlers.onboarding import stale_button
from handlers.reopened_evidence import accepts_evidence
from handlers.tokens import Token
from handlers.unit import UnitContext, active_unit
from storage.rules.file_content import ContentProblem
from storage.services.checklist import ItemInfo
from storage.services.evidence import RefusedFile, extension, is_allowed, safe_name
from storage.services.submissions import add_evidence, answer_states, edit_refusal, record_note

NOTE_MAX_LENGTH = 1000
EXTENSION_SHOWN = 16
MIME_TYPE_LENGTH = 100  # EvidenceFile.mime_type; the platform passes on what the sender said
WAITING_STATES = ("evidence", "answer", "multi", "note")


async def _item(turn: Turn, item_id: int | None) -> tuple[UnitContext, ItemInfo] | None:
    ctx = await active_unit(turn)
    if ctx is None:
        return None
    item = ctx.checklist.by_id(item_id or 0)
    if item is None or not await accepts_evidence(turn, ctx, item):
        await stale_button(turn)
        return None
    if await edit_refusal(turn.session, ctx.submission, item.id) is not None:
        text = turn.t("evidence.locked")
        turn.say(text, toast=text)
        return None
    return ctx, item


async def pressed_add(turn: Turn, token: Token) -> None:
    found = await _item(turn, token.int_arg(0))
    if found:
        ask_evidence(turn, found[1])


async def pressed_next(turn: Turn, token: Token) -> None:
    found = await _item(turn, token.int_arg(0))
    if found is None:
        return
    ctx, item = found
    states = await answer_states(turn.session, ctx.submission.id)
    state = states.get(item.id)
    missing = item.evidence == "required" and not (state and (state.evidence_count or state.note))
    prefix = turn.t("evidence.still_missing", code=escape(item.code)) + "\n\n" if missing else ""
    await show_next(turn, ctx, item, states, prefix=prefix)


async def pressed_explain(turn: Turn, token: Token) -> None:
    found = await _item(turn, token.int_arg(0))
    if found is None:
        return
    turn.set_state("note", item=found[1].id)
    turn.say(turn.t("evidence.ask_note", code=escape(found[1].code), max=NOTE_MAX_LENGTH))


async def typed_note(turn: Turn) -> None:
    found = await _item(turn, turn.state.data.get("item"))
    if found is None:
        return
    ctx, item = found
    note = turn.inbound.text.strip()
    if not note or len(note) > NOTE_MAX_LENGTH:
        turn.say(turn.t("evidence.bad_note", max=NOTE_MAX_LENGTH, length=len(note)))
        return
    await record_note(
        turn.session, ctx.submission, item, note, person_id=turn.person.id, now=turn.now
    )
    states = await answer_states(turn.session, ctx.submission.id)
    saved = turn.t("evidence.note_saved", code=escape(item.code)) + "\n\n"
    if item.id in states and states[item.id].value is None:
        await show_item(turn, ctx, item, prefix=saved, states=states)  # still to answer
        return
    await show_next(turn, ctx, item, states, prefix=saved)


async def typed_in_evidence(turn: Turn) -> None:
    found = await _item(turn, turn.state.data.get("item"))
    if found is None:
        return
    turn.say(
        turn.t("evidence.waiting", code=escape(found[1].code)), evidence_buttons(turn, found[1])
    )


async def received_file(turn: Turn) -> None:
    attachment = turn.inbound.attachment
    assert attachment is not None
    item_id = turn.state.data.get("item") if turn.state.state in WAITING_STATES else None
    ctx = await active_unit(turn) if item_id else None
    item = ctx.checklist.by_id(item_id or 0) if ctx else None
    if ctx is None or item is None or not await accepts_evidence(turn, ctx, item):
        turn.say(turn.t("evidence.no_item"))
        return
    if await edit_refusal(turn.session, ctx.submission, item.id) is not None:
        turn.say(turn.t("evidence.locked"))
        return
    problem = file_problem(turn, attachment.file_name, attachment.size)
    if problem:
        turn.say(problem, evidence_buttons(turn, item))
        return
    await _keep(turn, ctx, item)


def file_problem(turn: Turn, file_name: str, size: int | None) -> str | None:
    """Why a file cannot be taken, before its content is looked at; None if it can."""
    name = escape(safe_name(file_name))
    if not is_allowed(file_name):
        ext = extension(file_name)[:EXTENSION_SHOWN] or "?"  # as sent: any length
        return turn.t("evidence.bad_type", ext=escape(ext))
    if size == 0:
        return turn.t("evidence.empty", name=name)
    if size is None or size <= turn.deps.max_evidence_bytes:  # as told; now as downloaded
        if turn.prefetched is None or not turn.prefetched.exists():
            return turn.t("evidence.download_failed")
        size = turn.prefetched.stat().st_size
    if size > turn.deps.max_evidence_bytes:
        return turn.t(
            "evidence.too_big",
            size=fmt_size(size, turn.tr.locale),
            max=fmt_size(turn.deps.max_evidence_bytes, turn.tr.locale),
        )
    return None


def refusal_text(turn: Turn, file_name: str, problem: ContentProblem) -> str:
    """Why the store refused the file's content (empty, not of its type), and what to do."""
    name = safe_name(file_name)
    return turn.t(f"evidence.{problem.value}", name=escape(name), ext=escape(extension(name)))


async def _keep(turn: Turn, ctx: UnitContext, item: ItemInfo) -> None:
    attachment = turn.inbound.attachment
    assert attachment is not None and turn.prefetched is not None
    role = ctx.role
    try:
        stored = await turn.deps.evidence.keep_off_loop(
            turn.prefetched,
            folder=(role.campaign_code, role.unit_code or "", item.code),
            file_name=attachment.file_name,
        )
    except RefusedFile as refused:
        turn.say(
            refusal_text(turn, attachment.file_name, refused.problem), evidence_buttons(turn, item)
        )
        return
    added = await add_evidence(
        turn.session,
        ctx.submission,
        item,
        stored,
        file_name=stored.file_name,
        mime_type=attachment.mime_type[:MIME_TYPE_LENGTH],
        person_id=turn.person.id,
        now=turn.now,
    )
    states = await answer_states(turn.session, ctx.submission.id)
    count = states[item.id].evidence_count if item.id in states else 0
    key = "evidence.received" if added else "evidence.duplicate"
    if turn.state.state != "answer":
        turn.set_state("evidence", item=item.id)
    turn.say(
        turn.t(
            key,
            name=escape(stored.file_name),
            size=fmt_size(stored.size, turn.tr.locale),
            count=count,
            code=escape(item.code),
        ),
        evidence_buttons(turn, item),
    )


CHOICES = {"e": pressed_add, "n": pressed_next, "x": pressed_explain}

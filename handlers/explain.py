"""The unit's side of the appraisal: its scores after round 1, the explanation (giải trình)
of each item marked down, with evidence, until the deadline; then the final result."""

from __future__ import annotations

from html import escape

from common.localtime import fmt_datetime
from common.messages import Choice
from handlers.context import Turn
from handlers.evidence import MIME_TYPE_LENGTH, file_problem, refusal_text
from handlers.onboarding import stale_button
from handlers.self_score_card import score_text
from handlers.tokens import Token, make
from handlers.unit import UnitContext, active_unit, roles
from storage.services.appraisal_rounds import (
    TEXT_LIMIT,
    ItemView,
    RoundError,
    UnitAppraisal,
    attach_file,
    explain_item,
    explanation_of,
    send_explanations,
    unit_appraisal,
)
from storage.services.evidence import RefusedFile
from storage.services.submissions import add_evidence

MAX_LINES = 30


async def _appraisal(turn: Turn) -> tuple[UnitContext, UnitAppraisal] | None:
    ctx = await active_unit(turn)
    if ctx is None:
        return None
    view = await unit_appraisal(turn.session, ctx.submission, ctx.checklist, turn.now)
    if view.round is None:
        turn.say(turn.t("scores.no_round_yet"))
        return None
    return ctx, view


def _item_line(turn: Turn, v: ItemView) -> str:
    line = turn.t(
        "scores.unit_item_line",
        code=escape(v.item.code),
        own=score_text(turn, v.self_score),
        round1=score_text(turn, v.rule.round1 if v.rule.round1 is not None else v.self_score),
        reason=escape(v.reason or ""),
    )
    if v.explanation is not None:
        line += "\n" + turn.t(
            "scores.explained_line", text=escape(v.explanation.text), files=v.files
        )
        if v.rule.round2 is not None:
            line += "\n" + turn.t(
                "scores.round2_line",
                score=score_text(turn, v.rule.round2),
                reason=escape(v.explanation.round2_reason or ""),
            )
    return line


async def show_appraisal(turn: Turn, *, prefix: str = "", edit: bool = False) -> None:
    found = await _appraisal(turn)
    if found is None:
        return
    ctx, view = found
    assert view.round is not None
    tz = ctx.role.timezone
    lines = [
        turn.t(
            "scores.unit_title",
            unit=escape(ctx.role.unit_name or ""),
            score=score_text(turn, view.score),
            max=score_text(turn, view.maximum),
        )
    ]
    if view.final:
        lines.append(turn.t("scores.state_final"))
    elif view.closed:
        lines.append(turn.t("scores.state_round2"))
    else:
        lines.append(
            turn.t("scores.state_explaining", deadline=fmt_datetime(view.round.explain_until, tz))
        )
    lines += [_item_line(turn, v) for v in view.marked_down[:MAX_LINES]]
    rows: list[list[Choice]] = []
    if not view.closed:
        rows = [
            [Choice(turn.t("scores.explain_item", code=v.item.code), make("xi", v.item.id))]
            for v in view.marked_down
        ]
        if view.explained:
            rows.append([turn.button("scores.send_explanations", make("xs"))])
    turn.set_state("idle")
    turn.say(prefix + "\n\n".join(lines), rows, edit=edit)


async def from_notice(turn: Turn, token: Token) -> None:
    """`xl:<membership>`: the notice's button; the unit it names becomes the active one."""
    chosen = token.int_arg(0)
    if not any(r.membership_id == chosen for r in await roles(turn)):
        await stale_button(turn)
        return
    turn.set_state("idle", role=chosen)
    turn.remember(role=chosen)
    await show_appraisal(turn)


async def pressed_list(turn: Turn, token: Token) -> None:
    await show_appraisal(turn, edit=True)


async def pressed_item(turn: Turn, token: Token) -> None:
    found = await _appraisal(turn)
    if found is None:
        return
    _ctx, view = found
    item = view.view(token.int_arg(0) or 0)
    if item is None or not item.marked_down or view.closed:
        await stale_button(turn)
        return
    turn.set_state("explain", item=item.item.id)
    turn.say(
        turn.t("scores.ask_explanation", code=escape(item.item.code), limit=TEXT_LIMIT)
        + "\n\n"
        + _item_line(turn, item)
    )


async def typed_explanation(turn: Turn) -> None:
    found = await _appraisal(turn)
    if found is None:
        return
    ctx, view = found
    text = turn.inbound.text.strip()
    if not text or len(text) > TEXT_LIMIT:
        turn.say(turn.t("scores.bad_explanation", limit=TEXT_LIMIT, length=len(text)))
        return
    item_id = int(turn.state.data.get("item") or 0)
    try:
        await explain_item(
            turn.session,
            ctx.submission,
            view,
            item_id,
            text,
            person_id=turn.person.id,
            now=turn.now,
        )
    except RoundError as error:
        turn.set_state("idle")
        turn.say(turn.t(f"scores.refused.{error.reason.value}"))
        return
    item = view.view(item_id)
    code = item.item.code if item else ""
    turn.set_state("explain_files", item=item_id)
    turn.say(
        turn.t("scores.explanation_saved", code=escape(code)),
        [[turn.button("scores.done", make("xd"))]],
    )


async def received_file(turn: Turn) -> None:
    """A file sent after an explanation: evidence of the item, linked to the explanation."""
    attachment = turn.inbound.attachment
    found = await _appraisal(turn)
    if found is None or attachment is None:
        return
    ctx, view = found
    item = view.view(int(turn.state.data.get("item") or 0))
    explanation = (
        await explanation_of(turn.session, ctx.submission.id, item.item.id) if item else None
    )
    if item is not None and explanation is None and not view.closed:
        turn.say(turn.t("scores.text_first", code=escape(item.item.code)))
        return
    if item is None or explanation is None or view.closed:
        turn.set_state("idle")
        turn.say(turn.t("scores.refused.closed"))
        return
    done = [[turn.button("scores.done", make("xd"))]]
    problem = file_problem(turn, attachment.file_name, attachment.size)
    if problem or turn.prefetched is None:
        turn.say(problem or turn.t("evidence.download_failed"), done)
        return
    try:
        stored = await turn.deps.evidence.keep_off_loop(
            turn.prefetched,
            folder=(ctx.role.campaign_code, ctx.role.unit_code or "", item.item.code),
            file_name=attachment.file_name,
        )
    except RefusedFile as refused:
        turn.say(refusal_text(turn, attachment.file_name, refused.problem), done)
        return
    await add_evidence(
        turn.session,
        ctx.submission,
        item.item,
        stored,
        file_name=stored.file_name,
        mime_type=attachment.mime_type[:MIME_TYPE_LENGTH],
        person_id=turn.person.id,
        now=turn.now,
    )
    await attach_file(turn.session, explanation, ctx.submission.id, stored.sha256)
    turn.say(
        turn.t(
            "scores.explanation_file", name=escape(stored.file_name), code=escape(item.item.code)
        ),
        done,
    )


async def pressed_done(turn: Turn, token: Token) -> None:
    await show_appraisal(turn)


async def pressed_send(turn: Turn, token: Token) -> None:
    found = await _appraisal(turn)
    if found is None:
        return
    ctx, view = found
    try:
        await send_explanations(
            turn.session, ctx.submission, view, person_id=turn.person.id, now=turn.now
        )
    except RoundError as error:
        turn.say(turn.t(f"scores.refused.{error.reason.value}"))
        return
    turn.wrote_outbox = True
    await show_appraisal(
        turn,
        prefix=turn.t("scores.explanations_sent", count=len(view.explained)) + "\n\n",
        edit=True,
    )


CHOICES = {
    "xl": from_notice,
    "xa": pressed_list,
    "xi": pressed_item,
    "xd": pressed_done,
    "xs": pressed_send,
}
STATE_TEXT = {"explain": typed_explanation, "explain_files": typed_explanation}
STATE_FILE = {"explain_files": received_file, "explain": received_file}

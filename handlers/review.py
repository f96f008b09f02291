"""The review screen before submitting, and submitting with confirmation."""

from __future__ import annotations

from html import escape

from common.localtime import fmt_datetime
from common.messages import Choice
from handlers.context import Turn
from handlers.tokens import Token, make
from handlers.unit import UnitContext, active_unit
from storage.db.models import SubmissionStatus
from storage.rules.progress import AnswerState, Progress, compute_progress
from storage.rules.scoring import fmt_points
from storage.services.self_scores import hand_scores
from storage.services.submissions import answer_states, submit

MAX_CODES_LISTED = 30


def _codes(ctx: UnitContext, item_ids: tuple[int, ...]) -> str:
    codes = [item.code for i in item_ids if (item := ctx.checklist.by_id(i))]
    shown = ", ".join(escape(c) for c in codes[:MAX_CODES_LISTED])
    return shown + (f" (+{len(codes) - MAX_CODES_LISTED})" if len(codes) > MAX_CODES_LISTED else "")


def progress_lines(turn: Turn, ctx: UnitContext, progress: Progress) -> list[str]:
    lines = [
        turn.t("review.answered", answered=progress.answered, total=progress.total),
        turn.t(
            "review.score",
            score=fmt_points(progress.self_score, turn.tr),
            max=fmt_points(progress.max_score, turn.tr),
        ),
    ]
    if progress.missing_required:
        lines.append(
            turn.t(
                "review.missing_required",
                count=len(progress.missing_required),
                codes=_codes(ctx, progress.missing_required),
            )
        )
    if progress.missing_evidence:
        lines.append(
            turn.t(
                "review.missing_evidence",
                count=len(progress.missing_evidence),
                codes=_codes(ctx, progress.missing_evidence),
            )
        )
    return lines


async def show_review(
    turn: Turn,
    *,
    ctx: UnitContext | None = None,
    prefix: str = "",
    edit: bool = False,
    states: dict[int, AnswerState] | None = None,
) -> None:
    ctx = ctx or await active_unit(turn)
    if ctx is None:
        return
    states = states if states is not None else await answer_states(turn.session, ctx.submission.id)
    progress = compute_progress(
        ctx.checklist.items, states, await hand_scores(turn.session, ctx.submission.id)
    )
    role = ctx.role
    lines = [
        turn.t(
            "review.title", unit=escape(role.unit_name or ""), campaign=escape(role.campaign_code)
        ),
        turn.t("review.deadline", deadline=fmt_datetime(role.deadline, role.timezone)),
        *progress_lines(turn, ctx, progress),
    ]
    turn.set_state("idle")
    rows: list[list[Choice]] = []
    status = ctx.submission.status
    if status in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED):
        lines.append(turn.t(f"checklist.locked_{status}"))
    elif progress.complete:
        lines.append(turn.t("review.ready"))
        rows.append([turn.button("review.submit", make("sb"))])
    else:
        lines.append(turn.t("review.not_ready"))
        first = (progress.missing_required or progress.missing_evidence)[0]
        rows.append([turn.button("review.go_missing", make("g", first))])
    if status not in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED):
        rows.append([turn.button("checklist.list", make("l", 0))])
    turn.say(prefix + "\n".join(lines), rows, edit=edit)


async def pressed_review(turn: Turn, token: Token) -> None:
    await show_review(turn, edit=True)


async def ask_submit(turn: Turn, token: Token | None = None) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    states = await answer_states(turn.session, ctx.submission.id)
    progress = compute_progress(
        ctx.checklist.items, states, await hand_scores(turn.session, ctx.submission.id)
    )
    if (
        ctx.submission.status in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED)
        or not progress.complete
    ):
        await show_review(turn, ctx=ctx, states=states)
        return
    turn.set_state("confirm")
    turn.say(
        turn.t("review.confirm", unit=escape(ctx.role.unit_name or "")),
        [
            [
                turn.button("review.confirm_yes", make("sc", ctx.submission.version)),
                turn.button("common.cancel", make("r")),
            ]
        ],
        edit=token is not None,
    )


async def confirm_submit(turn: Turn, token: Token) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    if token.int_arg(0) != ctx.submission.version:
        # Someone (maybe a colleague of the same unit) changed the report since the
        # confirmation was asked: show the current state instead of submitting blind.
        await show_review(turn, ctx=ctx, prefix=turn.t("review.changed") + "\n\n", edit=True)
        return
    result = await submit(
        turn.session, ctx.submission, ctx.checklist, person_id=turn.person.id, now=turn.now
    )
    if result.already:
        await show_review(turn, ctx=ctx, edit=True)
        return
    if not result.ok:
        await show_review(turn, ctx=ctx, edit=True)
        return
    turn.set_state("idle")
    turn.wrote_outbox = True  # the team's alert
    key = "review.submitted_late" if result.late else "review.submitted"
    turn.say(
        turn.t(
            key,
            unit=escape(ctx.role.unit_name or ""),
            time=fmt_datetime(turn.now, ctx.role.timezone),
            score=fmt_points(result.progress.self_score, turn.tr),
            max=fmt_points(result.progress.max_score, turn.tr),
        ),
        edit=True,
    )


CHOICES = {"r": pressed_review, "sb": ask_submit, "sc": confirm_submit}

"""Remediation (khắc phục) in chat.

The unit contact: /khacphuc lists the unit's tasks (and, in a follow-up campaign, the
earlier campaign's shortcomings); a task's card shows the fix asked and its due date; the
contact writes what was done, may send evidence files (the same store and checks as the
report's evidence) and marks it done. The team's leaders are told and accept it or reopen
it with a comment (storage/services/remediation.py).
"""

from __future__ import annotations

from html import escape

from common.localtime import fmt_date
from common.messages import Choice, OutFile
from common.sizes import fmt_size
from handlers.access import assignment_in_scope
from handlers.cards import short
from handlers.conclusion import MARK, earlier_lines, task_line
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.tokens import Token, make
from handlers.unit import active_unit, roles
from storage.db.models import FixStatus, Role
from storage.services.carry_over import earlier_tasks
from storage.services.conclusions import local_day
from storage.services.evidence import RefusedFile, extension, is_allowed, safe_name
from storage.services.remediation import (
    REPORT_LIMIT,
    FixError,
    Task,
    add_file,
    files_of,
    mark_done,
    progress_by_unit,
    review_fix,
    save_report,
    task_by_id,
    tasks_of,
)
from storage.services.team_status import UnitState


async def khacphuc(turn: Turn) -> None:
    ctx = await active_unit(turn)
    if ctx is None:
        return
    await show_tasks(turn, ctx.role.assignment_id or 0)


async def open_for_role(turn: Turn, token: Token) -> None:
    """The button of a notice: the tasks of the unit that notice was about."""
    membership = token.int_arg(0)
    if not membership:  # "back to the list"
        await khacphuc(turn)
        return
    contacts = [r for r in await roles(turn) if r.role == Role.UNIT_CONTACT]
    role = next((r for r in contacts if r.membership_id == membership), None)
    if role is None or role.assignment_id is None:
        await stale_button(turn)
        return
    turn.remember(role=role.membership_id)
    await show_tasks(turn, role.assignment_id)


async def show_tasks(turn: Turn, assignment_id: int, *, prefix: str = "") -> None:
    turn.set_state("idle")  # a step left half way ends here
    tasks = await tasks_of(turn.session, assignment_id)
    fixed = sum(1 for s in tasks if s.status == FixStatus.FIXED)
    lines = [turn.t("remediation.title", fixed=fixed, total=len(tasks))]
    if not tasks:
        lines.append(turn.t("remediation.none"))
    lines += [task_line(turn, s) for s in tasks]
    lines += await earlier_lines(turn, assignment_id)
    rows = [
        [
            Choice(
                f"{MARK.get(FixStatus(s.status), '⬜')} {s.position}. {short(s.text, 40)}",
                make("kt", s.id),
            )
        ]
        for s in tasks
    ]
    turn.say(prefix + "\n".join(lines), rows)


async def _own_task(turn: Turn, shortcoming_id: int | None) -> Task | None:
    """A task of a unit the person is a contact of; else the stale-button answer."""
    task = await task_by_id(turn.session, shortcoming_id or 0)
    own = {r.assignment_id for r in await roles(turn) if r.role == Role.UNIT_CONTACT}
    if task is None or task.assignment.id not in own:
        await stale_button(turn)
        return None
    return task


def _card(turn: Turn, task: Task) -> tuple[str, list[list[Choice]]]:
    s = task.shortcoming
    lines = [
        turn.t(
            "remediation.card",
            n=s.position,
            text=escape(s.text),
            fix=escape(s.fix),
            due=fmt_date(s.due_on),
            state=turn.t(f"remediation.state.{s.status}"),
        )
    ]
    if s.comment and s.status == FixStatus.OPEN:
        lines.append(turn.t("remediation.team_comment", comment=escape(s.comment)))
    if s.report:
        lines.append(turn.t("remediation.report_given", report=escape(s.report), files=task.files))
    rows: list[list[Choice]] = []
    if s.status == FixStatus.OPEN:
        rows.append([turn.button("remediation.report_button", make("kr", s.id))])
        if s.report:
            rows.append([turn.button("remediation.done_button", make("kdn", s.id))])
    rows.append([turn.button("remediation.back", make("kp", 0))])
    return "\n".join(lines), rows


async def open_task(turn: Turn, token: Token) -> None:
    task = await _own_task(turn, token.int_arg(0))
    if task is not None:
        turn.say(*_card(turn, task))


async def ask_report(turn: Turn, token: Token) -> None:
    task = await _own_task(turn, token.int_arg(0))
    if task is None:
        return
    if task.shortcoming.status != FixStatus.OPEN:
        turn.say(*_card(turn, task))
        return
    turn.set_state("kp_report", s=task.shortcoming.id, typed=True)
    turn.say(turn.t("remediation.ask_report", n=task.shortcoming.position, max=REPORT_LIMIT))


async def typed_report(turn: Turn) -> None:
    task = await _own_task(turn, turn.state.data.get("s"))
    if task is None:
        turn.set_state("idle")
        return
    text = turn.inbound.text.strip()
    if not text or len(text) > REPORT_LIMIT:
        turn.say(turn.t("remediation.bad_report", max=REPORT_LIMIT, length=len(text)))
        return
    try:
        await save_report(
            turn.session, task.shortcoming, text, person_id=turn.person.id, now=turn.now
        )
    except FixError:
        turn.set_state("idle")
        turn.say(*_card(turn, task))
        return
    turn.set_state("kp_files", s=task.shortcoming.id, typed=True)
    turn.say(
        turn.t("remediation.ask_files"),
        [[turn.button("remediation.done_button", make("kdn", task.shortcoming.id))]],
    )


async def received_file(turn: Turn) -> None:
    """Evidence of a fix, while the contact is at the files step of a task."""
    attachment = turn.inbound.attachment
    assert attachment is not None
    task = await _own_task(turn, turn.state.data.get("s"))
    if task is None:
        return
    done = [[turn.button("remediation.done_button", make("kdn", task.shortcoming.id))]]
    name = escape(safe_name(attachment.file_name))
    if not is_allowed(attachment.file_name):
        ext = escape(extension(attachment.file_name)[:16] or "?")
        turn.say(turn.t("evidence.bad_type", ext=ext), done)
        return
    if attachment.size == 0:
        turn.say(turn.t("evidence.empty", name=name), done)
        return
    if turn.prefetched is None or not turn.prefetched.exists():
        too_big = attachment.size is not None and attachment.size > turn.deps.max_evidence_bytes
        key = "evidence.too_big" if too_big else "evidence.download_failed"
        size = fmt_size(attachment.size or 0, turn.tr.locale)
        max_size = fmt_size(turn.deps.max_evidence_bytes, turn.tr.locale)
        turn.say(turn.t(key, size=size, max=max_size), done)
        return
    a = task.assignment
    try:
        stored = await turn.deps.evidence.keep_off_loop(
            turn.prefetched,
            folder=(a.campaign.code, a.unit.code, "khac-phuc", str(task.shortcoming.position)),
            file_name=attachment.file_name,
        )
    except RefusedFile as refused:
        kept = safe_name(attachment.file_name)
        turn.say(
            turn.t(
                f"evidence.{refused.problem.value}", name=escape(kept), ext=escape(extension(kept))
            ),
            done,
        )
        return
    try:
        added = await add_file(
            turn.session,
            task.shortcoming,
            stored,
            mime_type=attachment.mime_type[:100],
            person_id=turn.person.id,
            now=turn.now,
        )
    except FixError:
        turn.say(*_card(turn, task))
        return
    key = "remediation.file_received" if added else "remediation.file_duplicate"
    turn.say(
        turn.t(key, name=escape(stored.file_name), size=fmt_size(stored.size, turn.tr.locale)),
        done,
    )


async def done(turn: Turn, token: Token) -> None:
    task = await _own_task(turn, token.int_arg(0))
    if task is None:
        return
    try:
        await mark_done(turn.session, task, person_id=turn.person.id, now=turn.now)
    except FixError as error:
        text = turn.t(f"remediation.refused.{error.reason.value}")
        card, rows = _card(turn, task)
        turn.say(f"{text}\n\n{card}", rows, toast=text)
        return
    turn.wrote_outbox = True
    turn.set_state("idle")
    await show_tasks(
        turn,
        task.assignment.id,
        prefix=turn.t("remediation.marked_done", n=task.shortcoming.position) + "\n\n",
    )


# -- the team's review of a fix --------------------------------------------------------------


async def _team_task(turn: Turn, shortcoming_id: int | None) -> Task | None:
    task = await task_by_id(turn.session, shortcoming_id or 0)
    if task is None:
        await stale_button(turn)
        return None
    found = await assignment_in_scope(turn, task.assignment.id, "remediation.review", need="leads")
    return task if found is not None else None


async def review(turn: Turn, token: Token) -> None:
    task = await _team_task(turn, token.int_arg(0))
    if task is None:
        return
    s = task.shortcoming
    text, _ = _card(turn, task)
    files = await files_of(turn.session, s.id)
    rows = [[Choice(f"📎 {short(f.file_name, 40)}", make("kvf", f.id))] for f in files[:20]]
    if s.status == FixStatus.REPORTED:
        rows.append(
            [
                turn.button("remediation.accept_button", make("kva", s.id)),
                turn.button("remediation.reopen_button", make("kvr", s.id)),
            ]
        )
    title = turn.t("remediation.review_title", unit=escape(task.assignment.unit.name))
    turn.say(f"{title}\n{text}", rows)


async def accept(turn: Turn, token: Token) -> None:
    task = await _team_task(turn, token.int_arg(0))
    if task is not None:
        await _reviewed(turn, task, accept=True, comment=None)


async def ask_reopen(turn: Turn, token: Token) -> None:
    task = await _team_task(turn, token.int_arg(0))
    if task is None:
        return
    turn.set_state("kv_reopen", s=task.shortcoming.id, typed=True)
    turn.say(turn.t("remediation.ask_comment", n=task.shortcoming.position, max=REPORT_LIMIT))


async def typed_comment(turn: Turn) -> None:
    task = await _team_task(turn, turn.state.data.get("s"))
    if task is None:
        turn.set_state("idle")
        return
    comment = turn.inbound.text.strip()
    if not comment or len(comment) > REPORT_LIMIT:
        turn.say(turn.t("remediation.bad_report", max=REPORT_LIMIT, length=len(comment)))
        return
    await _reviewed(turn, task, accept=False, comment=comment)


async def _reviewed(turn: Turn, task: Task, *, accept: bool, comment: str | None) -> None:
    turn.set_state("idle")
    try:
        await review_fix(
            turn.session,
            task,
            accept=accept,
            comment=comment,
            person_id=turn.person.id,
            now=turn.now,
        )
    except FixError as error:
        text = turn.t(f"remediation.refused.{error.reason.value}")
        turn.say(text, toast=text)
        return
    turn.wrote_outbox = True
    key = "remediation.accepted" if accept else "remediation.reopened"
    turn.say(
        turn.t(key, n=task.shortcoming.position, unit=escape(task.assignment.unit.name)),
        [[turn.button("conclusion.open_button", make("kl", task.assignment.id))]],
    )


async def send_file(turn: Turn, token: Token) -> None:
    from storage.db.models import ShortcomingFile

    file = await turn.session.get(ShortcomingFile, token.int_arg(0) or 0)
    task = await _team_task(turn, file.shortcoming_id if file else None)
    if task is None or file is None:
        return
    path = turn.deps.evidence.path_of(file.storage_path)
    if not path.exists():
        turn.say(turn.t("team.file_missing", name=escape(file.file_name)))
        return
    caption = turn.t("team.file_caption", name=escape(file.file_name), sha=file.sha256[:16])
    turn.say(caption, document=OutFile(path, file.file_name, file.mime_type))


CHOICES = {
    "kp": open_for_role,
    "kt": open_task,
    "kr": ask_report,
    "kdn": done,
    "kv": review,
    "kva": accept,
    "kvr": ask_reopen,
    "kvf": send_file,
}

STATE_TEXT = {"kp_report": typed_report, "kp_files": typed_report, "kv_reopen": typed_comment}
STATE_FILE = {"kp_files": received_file}


async def progress_lines(
    turn: Turn, campaign_id: int, tz: str, units: list[UnitState]
) -> list[str]:
    """ "🛠 Unit: 4/6 tồn tại đã khắc phục (1 quá hạn)" for each unit with an issued
    conclusion (the leader's /summary)."""
    progress = await progress_by_unit(turn.session, campaign_id, today=local_day(turn.now, tz))
    lines = []
    for unit in units:
        p = progress.get(unit.assignment_id)
        if p is None:
            continue
        line = turn.t(
            "remediation.summary_line", unit=escape(unit.unit_name), fixed=p.fixed, total=p.total
        )
        if p.overdue:
            line += turn.t("remediation.summary_overdue", overdue=p.overdue)
        lines.append(line)
    return lines


async def status_lines(turn: Turn, assignment_id: int) -> list[str]:
    """The contact's /status: this campaign's fixes and the earlier campaign's, if any."""
    lines = []
    tasks = await tasks_of(turn.session, assignment_id)
    if tasks:
        fixed = sum(1 for s in tasks if s.status == FixStatus.FIXED)
        lines.append(turn.t("remediation.status_line", fixed=fixed, total=len(tasks)))
    earlier = await earlier_tasks(turn.session, assignment_id)
    if earlier is not None:
        campaign, old = earlier
        fixed = sum(1 for s in old if s.status == FixStatus.FIXED)
        lines.append(
            turn.t(
                "remediation.status_earlier",
                campaign=escape(campaign),
                fixed=fixed,
                total=len(old),
            )
        )
    return lines

"""The operations on a unit's report: answer, attach evidence, explain, submit.

Services take a session and never commit: the caller (one transaction per inbound event)
does, so an answer is durable exactly when the bot acknowledges it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CompoundSelect,
    Table,
    bindparam,
    event,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from common.localtime import fmt_datetime
from storage.db import dialect_name
from storage.db.models import (
    Answer,
    AnswerRevision,
    Assignment,
    Campaign,
    ChatAccount,
    EvidenceFile,
    Membership,
    ReviewFlag,
    Role,
    Submission,
    SubmissionStatus,
    Unit,
)
from storage.rules.progress import AnswerState, Progress, compute_progress
from storage.services import audit
from storage.services.checklist import Checklist, ItemInfo
from storage.services.evidence import StoredFile
from storage.services.outbox import button, enqueue_many
from storage.services.resubmit_changes import CHANGES_PARAM, reopened_changes
from storage.services.self_scores import hand_scores

OPEN_STATUSES = (SubmissionStatus.NOT_STARTED, SubmissionStatus.IN_PROGRESS)


class EditRefusal(StrEnum):
    SUBMITTED = "submitted"  # locked: waiting for the team's review
    ACCEPTED = "accepted"
    NOT_REOPENED = "not_reopened"  # returned, but this item was not asked to be corrected


async def submission_for(
    session: AsyncSession, assignment_id: int, submission_id: int | None = None
) -> Submission:
    """The assignment's submission; with its id known (roles_of loads it), from the session's
    identity map without a query."""
    submission = await session.get(Submission, submission_id) if submission_id else None
    if submission is None or submission.assignment_id != assignment_id:
        submission = await session.scalar(
            select(Submission).where(Submission.assignment_id == assignment_id)
        )
    if submission is None:  # created at import; this only happens for hand-made data
        raise LookupError(f"no submission for assignment {assignment_id}")
    return submission


async def reopened_items(session: AsyncSession, submission_id: int) -> set[int]:
    rows = await session.scalars(
        select(ReviewFlag.item_id).where(
            ReviewFlag.submission_id == submission_id,
            ReviewFlag.returned_at.is_not(None),
            ReviewFlag.resolved_at.is_(None),
        )
    )
    return set(rows)


async def edit_refusal(
    session: AsyncSession, submission: Submission, item_id: int
) -> EditRefusal | None:
    status = SubmissionStatus(submission.status)
    if status in OPEN_STATUSES:
        return None
    if status == SubmissionStatus.RETURNED:
        allowed = await reopened_items(session, submission.id)
        return None if item_id in allowed else EditRefusal.NOT_REOPENED
    return EditRefusal.ACCEPTED if status == SubmissionStatus.ACCEPTED else EditRefusal.SUBMITTED


# One event reads a submission's answer states several times (check, save, show the next
# card); they are read once per session and kept in `session.info`, up to date with what the
# session itself writes: any flush of answers or evidence drops them (see _forget_states),
# and `record_answer` and `add_evidence` (statements the ORM does not see) put in place what
# they changed.
_STATES = "cchc.answer_states"


def _touches_states(session: Session) -> bool:
    """Pending ORM changes to answers or evidence in this session?"""
    return any(
        isinstance(o, (Answer, EvidenceFile))
        for o in (*session.new, *session.dirty, *session.deleted)
    )


@event.listens_for(Session, "after_flush")
def _forget_states(session: Session, _flush_context: object) -> None:
    if _STATES in session.info and _touches_states(session):
        del session.info[_STATES]


def states_select(submission: Any, *, within: Any = None) -> CompoundSelect:
    """Item id, answer value, note and evidence count (rows of 0 files are answers) of
    `submission`: a bind, or a column of `within`, a FROM of an enclosing query."""
    correlated = () if within is None else (within,)
    return union_all(
        select(Answer.item_id, Answer.value, Answer.note, literal(0).label("files"))
        .where(Answer.submission_id == submission)
        .correlate(*correlated),
        select(EvidenceFile.item_id, null(), null(), func.count())
        .where(EvidenceFile.submission_id == submission, EvidenceFile.removed_at.is_(None))
        .correlate(*correlated)
        .group_by(EvidenceFile.item_id),
    )


_STATES_QUERY = states_select(bindparam("submission"))


def states_column(submission: Any, dialect: str) -> Any:
    """The answer states of `submission` (a column of the enclosing query) as one JSON
    value, for a query that reads them along with other things (storage.services.chat_open);
    `keep_states_json` takes it back."""
    rows = states_select(submission, within=submission.table).subquery("states")
    if dialect == "postgresql":
        row = func.json_build_array(rows.c.item_id, rows.c.value, rows.c.note, rows.c.files)
        aggregate = func.json_agg(row, type_=JSON)
    else:  # SQLite keeps JSON as text: json() turns an answer back into JSON, not a string
        row = func.json_array(rows.c.item_id, func.json(rows.c.value), rows.c.note, rows.c.files)
        aggregate = func.json_group_array(row, type_=JSON)
    return select(aggregate).scalar_subquery()


def keep_states_json(session: AsyncSession, submission_id: int, states: Any) -> None:
    """Keep the states read through `states_column` for the session's later reads."""
    _keep_states(session, submission_id, states or [])


async def answer_states(session: AsyncSession, submission_id: int) -> dict[int, AnswerState]:
    """Item id -> answer, note and evidence count; read-only for the caller."""
    cached: dict[int, dict[int, AnswerState]] = session.info.setdefault(_STATES, {})
    if submission_id in cached and not _touches_states(session.sync_session):
        return cached[submission_id]
    rows = await session.execute(_STATES_QUERY, {"submission": submission_id})
    return _keep_states(session, submission_id, rows)


def _keep_states(
    session: AsyncSession, submission_id: int, rows: Iterable[Sequence[Any]]
) -> dict[int, AnswerState]:
    """The states from rows of `states_select`, kept for the session's later reads."""
    answers: dict[int, tuple[Any, str | None]] = {}
    files: dict[int, int] = {}
    for item_id, value, note, count in rows:
        if count:
            files[item_id] = count
        else:
            answers[item_id] = (value, note)
    states = {
        item_id: AnswerState(value, note, files.pop(item_id, 0))
        for item_id, (value, note) in answers.items()
    }
    for item_id, count in files.items():  # evidence sent before the answer
        states[item_id] = AnswerState(None, None, count)
    # Not a dict read earlier: a query's autoflush may have dropped it (see _forget_states).
    session.info.setdefault(_STATES, {})[submission_id] = states
    return states


def _remember(
    session: AsyncSession,
    submission_id: int,
    item_id: int,
    change: Callable[[AnswerState], AnswerState],
) -> None:
    """Keep the cached states right after this session changed one item (a statement the
    ORM does not see: an answer's value, a file added)."""
    states = session.info.get(_STATES, {}).get(submission_id)
    if states is not None:
        states[item_id] = change(states.get(item_id) or AnswerState(None))


async def progress_of(
    session: AsyncSession, submission: Submission, checklist: Checklist
) -> tuple[Progress, dict[int, AnswerState]]:
    states = await answer_states(session, submission.id)
    hand = await hand_scores(session, submission.id)
    return compute_progress(checklist.items, states, hand), states


_SUBMISSIONS: Table = Submission.__table__  # type: ignore[assignment]
_TOUCH_STATEMENT = (
    update(_SUBMISSIONS)
    .where(_SUBMISSIONS.c.id == bindparam("submission"))
    .values(status=bindparam("status"), updated_at=bindparam("now"), version=bindparam("version"))
)


def _touched(submission: Submission, now: datetime) -> dict[str, Any]:
    """What marking the report changed writes: in progress, updated now, next version."""
    status = submission.status
    if status == SubmissionStatus.NOT_STARTED:
        status = SubmissionStatus.IN_PROGRESS
    return {
        "submission": submission.id,
        "status": str(status),
        "now": now,
        "version": submission.version + 1,
    }


def _keep_touched(submission: Submission, values: dict[str, Any]) -> None:
    # The loaded object set to match what was written: the ORM has nothing left to flush.
    for key, value in (
        ("status", values["status"]),
        ("updated_at", values["now"]),
        ("version", values["version"]),
    ):
        set_committed_value(submission, key, value)


async def _touch(session: AsyncSession, submission: Submission, now: datetime) -> None:
    """Mark the report changed: one Core statement (it happens on every answer), and the
    loaded object set to match."""
    values = _touched(submission, now)
    await session.execute(_TOUCH_STATEMENT, values)
    _keep_touched(submission, values)


_ANSWERS: Table = Answer.__table__  # type: ignore[assignment]
_REVISIONS: Table = AnswerRevision.__table__  # type: ignore[assignment]
_VALUE = bindparam("value", type_=_ANSWERS.c.value.type)


def _upsert_answer(builder: Any) -> Any:
    """One statement for the first answer and for a change (a new revision number)."""
    statement = builder(_ANSWERS).values(
        submission_id=bindparam("submission"),
        item_id=bindparam("item"),
        value=_VALUE,
        answered_by=bindparam("person"),
        answered_at=bindparam("now"),
        revision=1,
        reopened=False,  # spelled out: a column default is not filled in inside a WITH
    )
    changed = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["submission_id", "item_id"],
        set_={
            "value": changed.value,
            "answered_by": changed.answered_by,
            "answered_at": changed.answered_at,
            "revision": _ANSWERS.c.revision + 1,
        },
    ).returning(_ANSWERS.c.id, _ANSWERS.c.revision)


# Every answer goes through these: Core statements built once, no ORM objects to flush.
_UPSERT_ANSWER = _upsert_answer(sqlite.insert)  # SQLite; PostgreSQL: _RECORD_IN_ONE
_NEW_REVISION = insert(_REVISIONS).values(
    answer_id=bindparam("answer"),
    revision=bindparam("revision"),
    value=_VALUE,
    answered_by=bindparam("person"),
    answered_at=bindparam("now"),
)


def _record_in_one() -> Any:
    """PostgreSQL: the answer, its revision and the report's touch as one statement (each
    statement is a round trip there; on SQLite they are calls in the process)."""
    answer = _upsert_answer(postgresql.insert).cte("answer")
    revision = (
        insert(_REVISIONS)
        .from_select(
            ["answer_id", "revision", "value", "answered_by", "answered_at"],
            select(
                answer.c.id,
                answer.c.revision,
                _VALUE,
                bindparam("person", type_=_REVISIONS.c.answered_by.type),
                bindparam("now", type_=_REVISIONS.c.answered_at.type),
            ),
        )
        .cte("revision")
    )
    return select(answer.c.id).add_cte(revision, _TOUCH_STATEMENT.cte("touch"))


_RECORD_IN_ONE = _record_in_one()


async def record_answer(
    session: AsyncSession,
    submission: Submission,
    item: ItemInfo,
    value: Any,
    *,
    person_id: int,
    now: datetime,
) -> None:
    """Set (or with None: clear) the answer; every change is kept as a revision. Written
    when this returns: one statement on PostgreSQL, three on SQLite."""
    params = {"item": item.id, "value": value, "person": person_id, **_touched(submission, now)}
    if dialect_name(session) == "postgresql":
        await session.execute(_RECORD_IN_ONE, params)
    else:
        answer_id, revision = (await session.execute(_UPSERT_ANSWER, params)).one()
        await session.execute(_NEW_REVISION, {**params, "answer": answer_id, "revision": revision})
        await session.execute(_TOUCH_STATEMENT, params)
    _keep_touched(submission, params)
    _remember(session, submission.id, item.id, lambda old: replace(old, value=value))


async def record_note(
    session: AsyncSession,
    submission: Submission,
    item: ItemInfo,
    note: str,
    *,
    person_id: int,
    now: datetime,
) -> None:
    """Giải trình: the unit explains why an item has no evidence."""
    answer = await session.scalar(
        select(Answer).where(Answer.submission_id == submission.id, Answer.item_id == item.id)
    )
    if answer is None:
        answer = Answer(
            submission_id=submission.id,
            item_id=item.id,
            value=None,
            answered_by=person_id,
            answered_at=now,
        )
        session.add(answer)
    answer.note = note
    await _touch(session, submission, now)


async def add_evidence(
    session: AsyncSession,
    submission: Submission,
    item: ItemInfo,
    stored: StoredFile,
    *,
    file_name: str,
    mime_type: str,
    person_id: int,
    now: datetime,
) -> bool:
    """Attach a stored file; the same content sent twice for an item is kept once (False)."""
    params = {
        **_touched(submission, now),
        "item": item.id,
        "file_name": file_name,
        "size": stored.size,
        "mime_type": mime_type,
        "sha256": stored.sha256,
        "storage_path": stored.relative_path,
        "person": person_id,
    }
    if dialect_name(session) == "postgresql":
        if (await session.execute(_ADD_EVIDENCE, params)).first() is None:
            return False
    else:  # calls in the process: one by one
        if (await session.execute(_SAME_CONTENT, params)).first() is not None:
            return False
        await session.execute(_NEW_FILE, params)
        await session.execute(_TOUCH_STATEMENT, params)
    _keep_touched(submission, params)
    _remember(
        session,
        submission.id,
        item.id,
        lambda old: replace(old, evidence_count=old.evidence_count + 1),
    )
    return True


_FILES: Table = EvidenceFile.__table__  # type: ignore[assignment]
_SAME_CONTENT = select(_FILES.c.id).where(  # this content, already attached to the item
    _FILES.c.submission_id == bindparam("submission"),
    _FILES.c.item_id == bindparam("item"),
    _FILES.c.sha256 == bindparam("sha256"),
    _FILES.c.removed_at.is_(None),
)
_FILE_BINDS = {
    "submission_id": "submission",
    "item_id": "item",
    "file_name": "file_name",
    "size": "size",
    "mime_type": "mime_type",
    "sha256": "sha256",
    "storage_path": "storage_path",
    "uploaded_by": "person",
    "uploaded_at": "now",
}
_NEW_FILE = insert(_FILES).values({column: bindparam(bind) for column, bind in _FILE_BINDS.items()})


def _add_evidence_in_one() -> Any:
    """PostgreSQL: the file's row, unless the item has this content already, and then the
    report's touch, as one statement (three round trips one by one)."""
    row = select(
        *[bindparam(bind, type_=_FILES.c[column].type) for column, bind in _FILE_BINDS.items()]
    )
    new = (
        insert(_FILES)
        .from_select(list(_FILE_BINDS), row.where(~_SAME_CONTENT.exists()))
        .returning(_FILES.c.id)
        .cte("new_file")
    )
    touch = _TOUCH_STATEMENT.where(select(new.c.id).exists()).cte("touch")
    return select(new.c.id).add_cte(touch)


_ADD_EVIDENCE = _add_evidence_in_one()


async def evidence_of(
    session: AsyncSession, submission_id: int, item_id: int
) -> list[EvidenceFile]:
    return list(
        await session.scalars(
            select(EvidenceFile)
            .where(
                EvidenceFile.submission_id == submission_id,
                EvidenceFile.item_id == item_id,
                EvidenceFile.removed_at.is_(None),
            )
            .order_by(EvidenceFile.id)
        )
    )


# -- submitting --------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    ok: bool
    progress: Progress
    late: bool = False
    already: bool = False


async def submit(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    *,
    person_id: int,
    now: datetime,
) -> SubmitResult:
    """Lock the report and alert the team's leaders, in this same transaction."""
    progress, _ = await progress_of(session, submission, checklist)
    if submission.status in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED):
        return SubmitResult(False, progress, submission.late, already=True)
    if not progress.complete:
        return SubmitResult(False, progress)
    assignment = await session.get(Assignment, submission.assignment_id)
    assert assignment is not None
    campaign = await session.get(Campaign, assignment.campaign_id)
    assert campaign is not None
    deadline = assignment.deadline or campaign.deadline
    resubmission = submission.status == SubmissionStatus.RETURNED
    submission.status = SubmissionStatus.SUBMITTED
    submission.submitted_at, submission.submitted_by = now, person_id
    submission.late = submission.late or now > deadline
    submission.self_score = progress.self_score
    submission.updated_at = now
    submission.version += 1
    changes = await reopened_changes(session, submission.id) if resubmission else None
    if resubmission:
        await _resolve_flags(session, submission.id, now)
    await _alert_team(session, assignment, campaign, submission, progress, now, changes)
    await audit.record(
        session,
        now=now,
        action="submission.submit",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"late": submission.late, "self_score": progress.self_score},
    )
    return SubmitResult(True, progress, submission.late)


async def _resolve_flags(session: AsyncSession, submission_id: int, now: datetime) -> None:
    for flag in await session.scalars(
        select(ReviewFlag).where(
            ReviewFlag.submission_id == submission_id,
            ReviewFlag.returned_at.is_not(None),
            ReviewFlag.resolved_at.is_(None),
        )
    ):
        flag.resolved_at = now


async def team_accounts(
    session: AsyncSession, team_id: int, roles: tuple[Role, ...] = (Role.TEAM_LEADER,)
) -> list[ChatAccount]:
    """The chat accounts of a team's leaders (or members) that can still be reached."""
    return list(
        await session.scalars(
            select(ChatAccount)
            .join(Membership, Membership.person_id == ChatAccount.person_id)
            .where(
                Membership.team_id == team_id,
                Membership.role.in_(roles),
                Membership.revoked_at.is_(None),
            )
            .order_by(ChatAccount.id)
        )
    )


async def _alert_team(
    session: AsyncSession,
    assignment: Assignment,
    campaign: Campaign,
    submission: Submission,
    progress: Progress,
    now: datetime,
    changes: list[dict[str, Any]] | None,
) -> None:
    """`changes`: on a resubmission, old and new value per reopened item."""
    unit: Unit = assignment.unit
    template = "edges.resubmitted" if changes is not None else "alerts.submitted"
    if submission.late:
        template += "_late"
    params = {
        "unit": unit.name,
        "campaign": campaign.code,
        "time": fmt_datetime(now, campaign.timezone),
        "answered": progress.answered,
        "total": progress.total,
        # Floats are numbers: the renderer shows them in the reader's format.
        "score": float(progress.self_score),
        "max": float(progress.max_score),
        "_buttons": [[button("alerts.open_unit", f"ru:{assignment.id}")]],
    }
    if changes is not None:
        params[CHANGES_PARAM] = changes  # written out per reader (resubmit_changes)
    rows = [
        {
            "dedupe_key": f"submitted:{submission.id}:{submission.version}:{account.id}",
            "kind": "alert",
            "chat_account_id": account.id,
            "person_id": account.person_id,
            "campaign_id": campaign.id,
            "template": template,
            "params": params,
            "not_before": now,
            "created_at": now,
        }
        for account in await team_accounts(session, assignment.team_id)
    ]
    await enqueue_many(session, rows)

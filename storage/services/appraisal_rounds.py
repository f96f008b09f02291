"""Appraisal in rounds (thẩm định): round 1 sent to the unit, its explanations (giải trình),
round 2, the final result. Services: the caller owns the transaction.

Round 1's scores are the `appraisals` rows (storage.services.review.appraise_item); sending
round 1 fixes them and opens the explanations until a deadline of working days. The pure
rules of storage/rules/appraisal.py decide each item's stage and when the result is final:
an item marked down and not explained by the deadline keeps its round-1 score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_datetime, zone
from storage.db.models import (
    Appraisal,
    AppraisalRound,
    Assignment,
    EvidenceFile,
    Explanation,
    ExplanationFile,
    Submission,
    SubmissionStatus,
)
from storage.rules.appraisal import (
    ItemAppraisal,
    Stage,
    current_score,
    explanation_deadline,
    is_final,
    is_marked_down,
    stage,
    total,
)
from storage.rules.progress import item_self_score
from storage.services import audit
from storage.services.checklist import Checklist, ItemInfo, read_checklist
from storage.services.outbox import button, enqueue_many
from storage.services.recipients import unit_contacts
from storage.services.self_scores import hand_scores
from storage.services.submissions import answer_states, team_accounts

TEXT_LIMIT = 1000
NUMBERS_PARAM = "_numbers"  # {name: number}: formatted in the recipient's language
MARKED_DOWN_PARAM = "_marked_down"  # [[code, self-score, round 1, reason], ...]
MAX_LISTED = 30


class RoundRefusal(StrEnum):
    NOT_ACCEPTED = "not_accepted"  # round 1 goes out for an accepted report
    ALREADY_SENT = "already_sent"
    NOT_SENT = "not_sent"
    CLOSED = "closed"  # explanations are closed (sent, or the deadline passed)
    NOT_CLOSED = "not_closed"  # round 2 waits for the explanations
    NOT_MARKED_DOWN = "not_marked_down"
    NOTHING_EXPLAINED = "nothing_explained"
    NOT_DISPUTED = "not_disputed"
    FINAL = "final"
    BAD_SCORE = "bad_score"


class RoundError(Exception):
    def __init__(self, reason: RoundRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class ItemView:
    """One scored item of a unit: its scores through the rounds and where it stands."""

    item: ItemInfo
    rule: ItemAppraisal
    reason: str | None  # round 1's
    explanation: Explanation | None
    files: int  # evidence sent with the explanation
    stage: Stage

    @property
    def score(self) -> float:
        return current_score(self.rule)

    @property
    def self_score(self) -> float:
        return self.rule.self_score or 0.0

    @property
    def marked_down(self) -> bool:
        return is_marked_down(self.rule)


@dataclass(frozen=True)
class UnitAppraisal:
    round: AppraisalRound | None
    items: tuple[ItemView, ...]
    closed: bool  # no more explanations: the unit sent them, or the deadline passed
    final: bool
    score: float
    maximum: float

    @property
    def marked_down(self) -> list[ItemView]:
        return [v for v in self.items if v.marked_down]

    @property
    def disputed(self) -> list[ItemView]:
        """Explained items round 2 has not decided yet."""
        return [v for v in self.items if v.stage is Stage.EXPLAINED]

    @property
    def explained(self) -> list[ItemView]:
        return [v for v in self.items if v.explanation is not None]

    def view(self, item_id: int) -> ItemView | None:
        return next((v for v in self.items if v.item.id == item_id), None)


async def round_of(session: AsyncSession, submission_id: int) -> AppraisalRound | None:
    return await session.scalar(
        select(AppraisalRound).where(AppraisalRound.submission_id == submission_id)
    )


def explanations_closed(row: AppraisalRound | None, now: datetime) -> bool:
    return row is not None and (row.explanations_sent_at is not None or now > row.explain_until)


async def unit_appraisal(
    session: AsyncSession, submission: Submission, checklist: Checklist, now: datetime
) -> UnitAppraisal:
    """The unit's scored items through the rounds, as of `now` (the deadline counts)."""
    row = await round_of(session, submission.id)
    states = await answer_states(session, submission.id)
    hand = await hand_scores(session, submission.id)
    appraisals = {
        a.item_id: a
        for a in await session.scalars(
            select(Appraisal).where(Appraisal.submission_id == submission.id)
        )
    }
    explanations = {
        e.item_id: e
        for e in await session.scalars(
            select(Explanation).where(Explanation.submission_id == submission.id)
        )
    }
    files = await _file_counts(session, [e.id for e in explanations.values()])
    closed = explanations_closed(row, now)
    views = []
    for item in checklist.items:
        if item.points <= 0:
            continue
        appraisal, explanation = appraisals.get(item.id), explanations.get(item.id)
        rule = ItemAppraisal(
            code=item.code,
            points=item.points,
            self_score=item_self_score(item, states.get(item.id), hand),
            round1=appraisal.score if appraisal else None,
            appraised=row is not None,
            explained=explanation is not None,
            round2=explanation.round2_score if explanation else None,
        )
        views.append(
            ItemView(
                item,
                rule,
                appraisal.reason if appraisal else None,
                explanation,
                files.get(explanation.id, 0) if explanation else 0,
                stage(rule, explanations_closed=closed),
            )
        )
    rules = [v.rule for v in views]
    score, maximum = total(rules)
    final = row is not None and is_final(rules, explanations_closed=closed)
    return UnitAppraisal(row, tuple(views), closed, final, score, maximum)


async def _file_counts(session: AsyncSession, explanation_ids: list[int]) -> dict[int, int]:
    if not explanation_ids:
        return {}
    rows = await session.execute(
        select(ExplanationFile.explanation_id, func.count())
        .join(EvidenceFile, EvidenceFile.id == ExplanationFile.evidence_file_id)
        .where(
            ExplanationFile.explanation_id.in_(explanation_ids),
            EvidenceFile.removed_at.is_(None),
        )
        .group_by(ExplanationFile.explanation_id)
    )
    return {explanation_id: count for explanation_id, count in rows}


def deadline_after(now: datetime, timezone: str, working_days: int) -> datetime:
    """The end (23:59 local) of the last day to explain, in UTC."""
    local = now.astimezone(zone(timezone))
    last = explanation_deadline(local.date(), working_days)
    return datetime.combine(last, time(23, 59), tzinfo=zone(timezone)).astimezone(UTC)


# -- round 1 ------------------------------------------------------------------------------


async def send_round1(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    *,
    person_id: int,
    now: datetime,
) -> UnitAppraisal:
    """Fix round 1 and tell the unit: the items marked down, and until when it may explain
    them. Nothing marked down: the result is final at once."""
    if submission.status != SubmissionStatus.ACCEPTED:
        raise RoundError(RoundRefusal.NOT_ACCEPTED)
    if await round_of(session, submission.id) is not None:
        raise RoundError(RoundRefusal.ALREADY_SENT)
    assignment = await _assignment(session, submission)
    campaign = assignment.campaign
    row = AppraisalRound(
        submission_id=submission.id,
        round1_sent_at=now,
        round1_sent_by=person_id,
        explain_until=deadline_after(now, campaign.timezone, checklist.scoring.explain_days),
    )
    session.add(row)
    await session.flush()
    view = await unit_appraisal(session, submission, checklist, now)
    submission.appraised_score = view.score
    submission.updated_at = now
    if view.final:
        row.final_at = now
        await _tell_final(session, assignment, submission, view, now)
    else:
        listing = [
            [v.item.code, v.self_score, v.score, v.reason or ""]
            for v in view.marked_down[:MAX_LISTED]
        ]
        params = {
            "unit": assignment.unit.name,
            "campaign": campaign.title,
            "count": len(view.marked_down),
            "deadline": fmt_datetime(row.explain_until, campaign.timezone),
            NUMBERS_PARAM: {"score": view.score, "max": view.maximum},
            MARKED_DOWN_PARAM: listing,
        }
        await _tell_unit(
            session, assignment, "scores.round1_notice", f"round1:{submission.id}", params, now
        )
    await audit.record(
        session,
        now=now,
        action="appraisal.round1",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"score": view.score, "marked_down": [v.item.code for v in view.marked_down]},
    )
    return view


# -- explanations (the unit) -----------------------------------------------------------------


async def explain_item(
    session: AsyncSession,
    submission: Submission,
    view: UnitAppraisal,
    item_id: int,
    text: str,
    *,
    person_id: int,
    now: datetime,
) -> Explanation:
    """Write (or rewrite) the unit's explanation of an item marked down, before the close."""
    if view.round is None:
        raise RoundError(RoundRefusal.NOT_SENT)
    if view.closed:
        raise RoundError(RoundRefusal.CLOSED)
    item = view.view(item_id)
    if item is None or not item.marked_down:
        raise RoundError(RoundRefusal.NOT_MARKED_DOWN)
    row = item.explanation
    if row is None:
        row = Explanation(submission_id=submission.id, item_id=item_id, text=text)
        session.add(row)
    row.text = text[:TEXT_LIMIT]
    row.explained_by, row.explained_at = person_id, now
    await session.flush()
    return row


async def explanation_of(
    session: AsyncSession, submission_id: int, item_id: int
) -> Explanation | None:
    return await session.scalar(
        select(Explanation).where(
            Explanation.submission_id == submission_id, Explanation.item_id == item_id
        )
    )


async def attach_file(
    session: AsyncSession, explanation: Explanation, submission_id: int, sha256: str
) -> None:
    """Link the item's evidence file of this content (just stored) to the explanation."""
    file_id = await session.scalar(
        select(EvidenceFile.id).where(
            EvidenceFile.submission_id == submission_id,
            EvidenceFile.item_id == explanation.item_id,
            EvidenceFile.sha256 == sha256,
            EvidenceFile.removed_at.is_(None),
        )
    )
    if file_id is None:
        return
    linked = await session.scalar(
        select(ExplanationFile.id).where(
            ExplanationFile.explanation_id == explanation.id,
            ExplanationFile.evidence_file_id == file_id,
        )
    )
    if linked is None:
        session.add(ExplanationFile(explanation_id=explanation.id, evidence_file_id=file_id))
        await session.flush()


async def send_explanations(
    session: AsyncSession,
    submission: Submission,
    view: UnitAppraisal,
    *,
    person_id: int,
    now: datetime,
) -> None:
    """The unit has explained what it wanted to: close the explanations, tell the leaders."""
    if view.round is None:
        raise RoundError(RoundRefusal.NOT_SENT)
    if view.closed:
        raise RoundError(RoundRefusal.CLOSED)
    if not view.explained:
        raise RoundError(RoundRefusal.NOTHING_EXPLAINED)
    view.round.explanations_sent_at = now
    assignment = await _assignment(session, submission)
    await _alert_team(session, assignment, submission, view, now)
    await audit.record(
        session,
        now=now,
        action="appraisal.explained",
        campaign_id=assignment.campaign_id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"items": [v.item.code for v in view.explained]},
    )


async def _alert_team(
    session: AsyncSession,
    assignment: Assignment,
    submission: Submission,
    view: UnitAppraisal,
    now: datetime,
) -> None:
    """Tell the team's leaders which items the unit explained: round 2 is theirs."""
    campaign = assignment.campaign
    params = {
        "unit": assignment.unit.name,
        "campaign": campaign.title,
        "count": len(view.explained),
        "codes": ", ".join(v.item.code for v in view.explained[:MAX_LISTED]),
        "_buttons": [[button("scores.round2_button", f"r2:{assignment.id}")]],
    }
    rows = [
        _row(
            f"explained:{submission.id}:{account.id}",
            account.id,
            account.person_id,
            campaign.id,
            "scores.explained_alert",
            params,
            now,
        )
        for account in await team_accounts(session, assignment.team_id)
    ]
    await enqueue_many(session, rows)


# -- round 2 -----------------------------------------------------------------------------------


async def decide_item(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    item_id: int,
    value: float,
    reason: str | None,
    *,
    person_id: int,
    now: datetime,
) -> UnitAppraisal:
    """Round 2 on one explained item: keep round 1's score or change it. When the last
    disputed item is decided, the result is final and the unit is told."""
    view = await unit_appraisal(session, submission, checklist, now)
    if view.round is None:
        raise RoundError(RoundRefusal.NOT_SENT)
    if view.round.final_at is not None:
        raise RoundError(RoundRefusal.FINAL)
    if not view.closed:
        raise RoundError(RoundRefusal.NOT_CLOSED)
    item = view.view(item_id)
    if item is None or item.explanation is None:
        raise RoundError(RoundRefusal.NOT_DISPUTED)
    if not 0 <= value <= item.item.points:
        raise RoundError(RoundRefusal.BAD_SCORE)
    explanation = item.explanation
    explanation.round2_score, explanation.round2_reason = value, reason
    explanation.decided_by, explanation.decided_at = person_id, now
    await session.flush()
    view = await unit_appraisal(session, submission, checklist, now)
    submission.appraised_score = view.score
    submission.updated_at = now
    assignment = await _assignment(session, submission)
    if view.final and view.round is not None:
        view.round.final_at = now
        await _tell_final(session, assignment, submission, view, now)
    await audit.record(
        session,
        now=now,
        action="appraisal.round2",
        campaign_id=assignment.campaign_id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"item": item.item.code, "score": value},
    )
    return view


# -- telling the unit ---------------------------------------------------------------------------


async def _assignment(session: AsyncSession, submission: Submission) -> Assignment:
    assignment = await session.get(Assignment, submission.assignment_id)
    assert assignment is not None  # a submission always belongs to an assignment
    return assignment


async def _tell_final(
    session: AsyncSession,
    assignment: Assignment,
    submission: Submission,
    view: UnitAppraisal,
    now: datetime,
) -> None:
    params = {
        "unit": assignment.unit.name,
        "campaign": assignment.campaign.title,
        NUMBERS_PARAM: {"score": view.score, "max": view.maximum},
    }
    await _tell_unit(
        session,
        assignment,
        "scores.final_notice",
        f"final:{submission.id}",
        params,
        now,
        label="scores.results_button",
    )


async def _tell_unit(
    session: AsyncSession,
    assignment: Assignment,
    template: str,
    key: str,
    params: Mapping[str, Any],
    now: datetime,
    *,
    label: str = "scores.explain_button",
) -> None:
    rows = [
        _row(
            f"{key}:{account_id}",
            account_id,
            person_id,
            assignment.campaign_id,
            template,
            {**params, "_buttons": [[button(label, f"xl:{membership_id}")]]},
            now,
        )
        for account_id, person_id, membership_id in await unit_contacts(session, assignment.id)
    ]
    await enqueue_many(session, rows)


def _row(
    key: str,
    account_id: int,
    person_id: int | None,
    campaign_id: int,
    template: str,
    params: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "kind": "review",
        "chat_account_id": account_id,
        "person_id": person_id,
        "campaign_id": campaign_id,
        "template": template,
        "params": dict(params),
        "not_before": now,
        "created_at": now,
    }


# -- the reminder before the explanation deadline --------------------------------------------

REMIND_AT = time(8, 0)  # local time on the last day to explain


async def remind_explanations(session: AsyncSession, now: datetime) -> int:
    """On the morning of the last day to explain, remind the units that still have items
    marked down and not explained (once: the dedupe key is per report). Returns how many."""
    rows = await session.scalars(
        select(AppraisalRound).where(
            AppraisalRound.explanations_sent_at.is_(None),
            AppraisalRound.final_at.is_(None),
            AppraisalRound.explain_until > now,
            AppraisalRound.explain_until <= now + timedelta(days=1),
        )
    )
    reminded = 0
    for row in list(rows):
        submission = await session.get(Submission, row.submission_id)
        assert submission is not None
        assignment = await _assignment(session, submission)
        tz = zone(assignment.campaign.timezone)
        last_day = row.explain_until.astimezone(tz).date()
        if now < datetime.combine(last_day, REMIND_AT, tzinfo=tz):
            continue
        checklist = await read_checklist(session, assignment.campaign_id)
        view = await unit_appraisal(session, submission, checklist, now)
        waiting = [v for v in view.marked_down if v.explanation is None]
        if not waiting:
            continue
        params = {
            "unit": assignment.unit.name,
            "campaign": assignment.campaign.title,
            "count": len(waiting),
            "codes": ", ".join(v.item.code for v in waiting[:MAX_LISTED]),
            "deadline": fmt_datetime(row.explain_until, assignment.campaign.timezone),
        }
        await _tell_unit(
            session,
            assignment,
            "scores.explain_reminder",
            f"explain_reminder:{submission.id}",
            params,
            now,
        )
        reminded += 1
    return reminded


async def close_due_rounds(session: AsyncSession, now: datetime) -> int:
    """After the explanation deadline: a result with nothing left to decide becomes final
    and the unit is told; explanations the unit wrote but never sent go to the team (the
    same message, and key, as sending them). Returns the rounds closed or passed on."""
    rows = await session.scalars(
        select(AppraisalRound).where(
            AppraisalRound.explanations_sent_at.is_(None),
            AppraisalRound.final_at.is_(None),
            AppraisalRound.explain_until < now,
        )
    )
    done = 0
    for row in list(rows):
        submission = await session.get(Submission, row.submission_id)
        assert submission is not None
        assignment = await _assignment(session, submission)
        checklist = await read_checklist(session, assignment.campaign_id)
        view = await unit_appraisal(session, submission, checklist, now)
        if view.final:
            row.final_at = now
            await _tell_final(session, assignment, submission, view, now)
        else:
            await _alert_team(session, assignment, submission, view, now)
        row.explanations_sent_at = row.explain_until  # closed by the deadline: once only
        done += 1
    return done

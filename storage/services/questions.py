"""Questions from a unit to its inspection team (Hỏi đoàn kiểm tra) and the team's answers.

A question is kept with the unit's submission; an answer is a Question row whose parent is
the question. The team's leader and members get the question; every contact of the unit
gets the answer. Both through the outbox, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Campaign, ChatAccount, Membership, Question, Role
from storage.services import audit
from storage.services.outbox import button, enqueue_many

TEXT_LIMIT = 2000


async def _accounts(session: AsyncSession, **where: object) -> list[tuple[int, int]]:
    query = (
        select(ChatAccount.id, ChatAccount.person_id)
        .join(Membership, Membership.person_id == ChatAccount.person_id)
        .where(Membership.revoked_at.is_(None))
    )
    if "assignment_id" in where:
        query = query.where(
            Membership.assignment_id == where["assignment_id"],
            Membership.role == Role.UNIT_CONTACT.value,
        )
    if "team_id" in where:
        query = query.where(
            Membership.team_id == where["team_id"],
            Membership.role.in_([Role.TEAM_LEADER.value, Role.TEAM_MEMBER.value]),
        )
    rows = await session.execute(query.order_by(ChatAccount.id))
    return [(a, p) for a, p in rows]


async def _tell(
    session: AsyncSession,
    recipients: list[tuple[int, int]],
    campaign_id: int,
    key: str,
    template: str,
    params: Mapping[str, object],
    now: datetime,
) -> None:
    kind = key.split(":", 1)[0]
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": f"{key}:{account_id}",
                "kind": kind,
                "chat_account_id": account_id,
                "person_id": person_id,
                "campaign_id": campaign_id,
                "template": template,
                "params": params,
                "not_before": now,
                "created_at": now,
            }
            for account_id, person_id in recipients
        ],
    )


async def _new_entry(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    text: str,
    person_id: int,
    person_name: str,
    now: datetime,
) -> tuple[Question, Campaign, dict[str, Any]]:
    """A new entry of the unit's questions thread, its campaign, and the params every
    message about it carries."""
    entry = Question(submission_id=submission_id, text=text, asked_by=person_id, asked_at=now)
    session.add(entry)
    await session.flush()
    campaign = await session.get(Campaign, assignment.campaign_id)
    assert campaign is not None
    params: dict[str, Any] = {
        "unit": assignment.unit.name,
        "campaign": campaign.code,
        "name": person_name,
        "text": text,
    }
    return entry, campaign, params


async def ask(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    text: str,
    *,
    person_id: int,
    person_name: str,
    now: datetime,
) -> Question:
    question, campaign, params = await _new_entry(
        session, assignment, submission_id, text, person_id, person_name, now
    )
    params["_buttons"] = [[button("questions.answer_button", f"qa:{question.id}")]]
    await _tell(
        session,
        await _accounts(session, team_id=assignment.team_id),
        campaign.id,
        f"question:{question.id}",
        "questions.to_team",
        params,
        now,
    )
    await audit.record(
        session,
        now=now,
        action="question.ask",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
    )
    return question


async def answer(
    session: AsyncSession,
    question: Question,
    assignment: Assignment,
    text: str,
    *,
    person_id: int,
    person_name: str,
    now: datetime,
) -> Question:
    reply = Question(
        submission_id=question.submission_id,
        parent_id=question.id,
        text=text,
        asked_by=person_id,
        asked_at=now,
    )
    session.add(reply)
    await session.flush()
    campaign = await session.get(Campaign, assignment.campaign_id)
    assert campaign is not None
    params = {
        "question": question.text,
        "answer": text,
        "name": person_name,
        "campaign": campaign.code,
    }
    await _tell(
        session,
        await _accounts(session, assignment_id=assignment.id),
        campaign.id,
        f"answer:{reply.id}",
        "questions.to_unit",
        params,
        now,
    )
    await audit.record(
        session,
        now=now,
        action="question.answer",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
    )
    return reply


async def question_by_id(session: AsyncSession, question_id: int) -> Question | None:
    return await session.get(Question, question_id)


async def thread(session: AsyncSession, submission_id: int) -> list[Question]:
    return list(
        await session.scalars(
            select(Question).where(Question.submission_id == submission_id).order_by(Question.id)
        )
    )


async def tell_unit(
    session: AsyncSession,
    assignment: Assignment,
    submission_id: int,
    text: str,
    *,
    person_id: int,
    person_name: str,
    now: datetime,
) -> Question:
    """The team asks the unit for more without returning the report (from the desk
    console): a message in the unit's questions thread, sent to every contact of the unit,
    who answers with /hoi."""
    note, campaign, params = await _new_entry(
        session, assignment, submission_id, text, person_id, person_name, now
    )
    await _tell(
        session,
        await _accounts(session, assignment_id=assignment.id),
        campaign.id,
        f"team_note:{note.id}",
        "desk_report.note_to_unit",
        params,
        now,
    )
    await audit.record(
        session,
        now=now,
        action="question.team_note",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
    )
    return note

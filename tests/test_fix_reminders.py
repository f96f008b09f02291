"""Reminders of remediation fixes: before the due date (moved off days off like report
reminders), overdue, escalated to the leader, never twice; none for a reported fix."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from schedules.fix_reminders import plan_fix_reminders
from schedules.scheduler import Jobs, run_reminders
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, Person
from storage.formats.conclusion_docx import NoticeSettings
from storage.rules.remediation import fix_deadline
from storage.services.conclusion_notice import issue_conclusion
from storage.services.conclusions import add_shortcoming, assignment_by_codes, conclusion_of
from storage.services.remediation import mark_done, save_report, task_by_id
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db

TZ = "Asia/Ho_Chi_Minh"
DUE = date(2021, 9, 21)  # a Tuesday: "3 days before" is a Saturday


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2021, 9, day, hour - 7, minute, tzinfo=UTC)  # UTC+7


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    spec = factories.campaign(units=2)
    spec = replace(spec, policy=replace(spec.policy, working_days_only=True))
    codes = await import_and_codes(db, clock, spec)
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path))
    chats = {"U1": Chat(dispatcher, clock), "leader": Chat(dispatcher, clock, name="Leader")}
    await chats["U1"].command("start", codes["U1"][0])
    await chats["leader"].command("start", codes["team_leader:D1"][0])
    async with transaction(db.sessions) as session:
        campaign_id = await _campaign_id(session)
        leader_id = int(
            await session.scalar(select(Person.id).where(Person.full_name == "Leader")) or 0
        )
        assignment = await assignment_by_codes(session, campaign_id, "U1")
        assert assignment is not None
        for text in ("Chưa công khai TTHC", "Chưa có kế hoạch kiểm tra"):
            await add_shortcoming(
                session,
                assignment,
                text=text,
                fix="Khắc phục",
                due_on=DUE,
                person_id=leader_id,
                now=clock.now(),
            )
        conclusion = await conclusion_of(session, assignment.id)
        assert conclusion is not None
        await issue_conclusion(
            session,
            assignment,
            conclusion,
            NoticeSettings(),
            tmp_path,
            person_id=None,
            now=clock.now(),
        )
        second = conclusion.shortcomings[1]
        await save_report(session, second, "Đã làm", person_id=leader_id, now=clock.now())
        task = await task_by_id(session, second.id)
        assert task is not None
        await mark_done(session, task, person_id=leader_id, now=clock.now())
    return chats


async def _campaign_id(session) -> int:
    from storage.db.models import Campaign

    return int(await session.scalar(select(Campaign.id)) or 0)


async def _plan(db: Db, clock: FrozenClock) -> None:
    async with transaction(db.sessions) as session:
        await plan_fix_reminders(session, now=clock.now())


async def _rows(db: Db, chat: Chat) -> list[OutboxMessage]:
    async with db.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .join(ChatAccount)
                .where(
                    ChatAccount.user_id == chat.user_id,
                    OutboxMessage.template.like("remediation.%"),
                    OutboxMessage.template != "remediation.reported_notice",
                )
                .order_by(OutboxMessage.id)
            )
        )


def test_a_fix_is_due_at_the_end_of_its_office_day() -> None:
    assert fix_deadline(DUE, TZ) == local(21, 17)


async def test_before_overdue_escalation_each_once(world, db, clock):
    contact, leader = world["U1"], world["leader"]
    await _plan(db, clock)
    assert await _rows(db, contact) == []
    clock.set(local(17, 16, 59))  # Friday, before the moved "3 days before" slot
    await _plan(db, clock)
    assert await _rows(db, contact) == []
    clock.set(local(17, 17, 1))  # moved from Saturday 18/09 17:00 to Friday
    await _plan(db, clock)
    await _plan(db, clock)  # planned again: nothing more
    [before] = await _rows(db, contact)
    assert before.template == "remediation.before"
    assert before.params["number"] == 1 and before.params["due"] == "21/09/2021"
    assert before.dedupe_key.split(":")[3] == "before" and "P3D" in before.dedupe_key
    clock.set(local(21, 15, 1))  # two hours before
    await _plan(db, clock)
    assert [r.template for r in await _rows(db, contact)] == ["remediation.before"] * 2
    assert await _rows(db, leader) == []  # not overdue yet
    clock.set(local(22, 17, 1))  # a day late: overdue reminder and escalation
    jobs = Jobs(db.sessions, clock)
    assert await run_reminders(jobs) >= 2
    rows = await _rows(db, contact)
    assert [r.template for r in rows][-1] == "remediation.overdue"
    [escalation] = await _rows(db, leader)
    assert escalation.template == "remediation.escalation"
    assert escalation.params["unit"] == "Ủy ban nhân dân Phường 1"
    await run_reminders(jobs)  # again at the same time: nothing twice
    assert len(await _rows(db, contact)) == len(rows)
    assert len(await _rows(db, leader)) == 1
    # Only the open fix is reminded of: the reported one (2) never appears.
    assert {r.params["number"] for r in rows} == {1}


async def test_after_downtime_one_current_reminder(world, db, clock):
    contact = world["U1"]
    await _plan(db, clock)
    clock.set(local(25, 9))  # the bot was down over the due date
    await _plan(db, clock)
    rows = await _rows(db, contact)
    assert [r.template for r in rows] == ["remediation.overdue"]
    assert timedelta(0) < clock.now() - local(21, 17)

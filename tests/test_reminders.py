"""Reminder planning: who gets what, when, exactly once; catch-up without flooding."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bot.outbox_render import make_renderer
from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from schedules.reminders import plan_reminders
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, Person, ScheduleMark, Submission
from storage.formats.campaign_spec import VisitSpec
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

DEADLINE = factories.DEADLINE  # 30/09/2021 17:00 local; U2's is two days earlier


def _spec():
    spec = factories.campaign(units=3)
    u3 = replace(spec.units[2], visit=VisitSpec(DEADLINE + timedelta(days=6), "Trụ sở", False))
    return replace(spec, units=(*spec.units[:2], u3))


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, _spec())
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path))
    people = {}
    for unit in ("U1", "U2", "U3"):
        people[unit] = Chat(dispatcher, clock, name=f"Contact {unit}")
        await people[unit].command("start", codes[unit][0])
    people["leader"] = Chat(dispatcher, clock, name="Leader")
    await people["leader"].command("start", codes["team_leader:D1"][0])
    return people


async def _plan(db: Db, clock: FrozenClock) -> None:
    async with transaction(db.sessions) as session:
        await plan_reminders(session, now=clock.now())


async def _rows(db: Db, chat: Chat | None = None) -> list[OutboxMessage]:
    async with db.sessions() as session:
        query = (
            select(OutboxMessage).where(OutboxMessage.kind != "alert").order_by(OutboxMessage.id)
        )
        if chat is not None:
            query = query.join(ChatAccount).where(ChatAccount.user_id == chat.user_id)
        return list(await session.scalars(query))


async def test_nothing_is_due_a_month_ahead(world, db, clock):
    await _plan(db, clock)
    assert await _rows(db) == []


async def test_a_reminder_says_exactly_what_is_missing(world, db, clock):
    lan = world["U1"]
    await lan.command("checklist")
    await lan.press(lan.button("s:").token)
    await lan.press(lan.button("s:").token)
    await lan.text("95")  # 1.3 answered; 6 of 7 left
    await _plan(db, clock)
    clock.set(DEADLINE - timedelta(days=3) + timedelta(minutes=1))
    await _plan(db, clock)
    [row] = await _rows(db, lan)
    assert row.template == "reminders.before"
    assert (row.params["unanswered"], row.params["total"], row.params["no_evidence"]) == (6, 7, 0)
    async with db.sessions() as session:
        account = await session.get(ChatAccount, row.chat_account_id)
        person = await session.get(Person, row.person_id)
        assert account is not None
        reply = make_renderer(CATALOG)(row, account, person)
    assert "Còn 6/7 mục chưa trả lời, 0 mục thiếu tài liệu kiểm chứng" in reply.text
    assert "30/09/2021 17:00" in reply.text
    [[button]] = reply.choices
    assert button.token.startswith("pick:") and "Đến mục còn thiếu" in button.label


async def test_planning_twice_or_after_a_lost_mark_never_duplicates(world, db, clock):
    await _plan(db, clock)
    clock.set(DEADLINE - timedelta(days=3) + timedelta(minutes=1))
    await _plan(db, clock)
    first = len(await _rows(db))
    await _plan(db, clock)
    async with transaction(db.sessions) as session:  # a crash lost the "last run" mark
        await session.execute(delete(ScheduleMark))
    await _plan(db, clock)
    assert first > 0 and len(await _rows(db)) == first


async def test_no_reminder_after_submission(world, db, clock):
    await _plan(db, clock)
    async with transaction(db.sessions) as session:
        await session.execute(update(Submission).values(status="submitted"))
    clock.set(DEADLINE - timedelta(hours=1))
    await _plan(db, clock)
    clock.set(DEADLINE + timedelta(days=3))
    await _plan(db, clock)
    templates = [r.template for r in await _rows(db)]
    assert templates == ["reminders.visit_notice"]  # the visit still happens: U2 is told


async def test_reminders_arrive_in_order_overdue_repeats_to_a_limit_and_escalate_once(
    world, db, clock
):
    lan, leader = world["U1"], world["leader"]
    await _plan(db, clock)
    for step in range(0, 24 * 12):  # every hour for twelve days around the deadline
        clock.set(DEADLINE - timedelta(days=4) + timedelta(hours=step))
        await _plan(db, clock)
    keys = [r.dedupe_key.split(":")[3:5] for r in await _rows(db, lan)]
    assert [k[0] for k in keys] == ["before", "before", "due", *["overdue"] * 5]
    assert keys[:2] == [["before", "P3D"], ["before", "PT2H"]]
    due = (await _rows(db, lan))[2]
    assert due.template == "edges.due_now" and due.not_before == DEADLINE
    escalations = await _rows(db, leader)
    # U2's deadline is two days earlier: it is escalated first, on its own.
    assert [r.template for r in escalations] == ["reminders.escalation"] * 2
    assert [r.params["count"] for r in escalations] == [1, 2]
    assert "Ủy ban nhân dân Phường 2" in escalations[0].params["units"]
    assert "Ủy ban nhân dân Phường 1" in escalations[1].params["units"]


async def test_catch_up_after_downtime_sends_one_current_reminder_per_unit(world, db, clock):
    await _plan(db, clock)
    clock.set(DEADLINE + timedelta(days=3, hours=1))  # down from 1/9 until three days late
    await _plan(db, clock)
    for unit in ("U1", "U2", "U3"):
        rows = [r for r in await _rows(db, world[unit]) if r.template.startswith("reminders.o")]
        assert len(rows) == 1, unit


async def test_visit_notices_only_for_announced_visits(world, db, clock):
    await _plan(db, clock)
    clock.set(DEADLINE + timedelta(days=5) - timedelta(days=7) + timedelta(minutes=1))
    async with transaction(db.sessions) as session:
        await session.execute(update(Submission).values(status="submitted"))
    await _plan(db, clock)
    [notice] = await _rows(db, world["U2"])
    assert notice.template == "reminders.visit_notice"
    assert notice.params["place"] == "Trụ sở UBND" and notice.params["date"] == "05/10/2021"
    clock.set(DEADLINE + timedelta(days=6))
    await _plan(db, clock)
    assert await _rows(db, world["U3"]) == []  # đột xuất: never revealed to the unit


async def test_a_reminder_lists_the_missing_items_and_jumps_to_the_first(world, db, clock):
    """Issue 19: the reminder names what is missing (codes and short titles) and its button
    opens the first missing item itself, here 1.1 (answered, its evidence missing)."""
    lan = world["U1"]
    await lan.command("checklist")
    await lan.text("01/12/2020")  # 1.1 answered...
    await lan.press_label("Tiếp tục")  # ...without its required document
    await _plan(db, clock)
    clock.set(DEADLINE - timedelta(days=3) + timedelta(minutes=1))
    await _plan(db, clock)
    [row] = await _rows(db, lan)
    async with db.sessions() as session:
        account = await session.get(ChatAccount, row.chat_account_id)
        person = await session.get(Person, row.person_id)
        assert account is not None
        reply = make_renderer(CATALOG)(row, account, person)
    unanswered, lacking = reply.text.split("Mục còn thiếu tài liệu kiểm chứng:")
    assert "Mục bắt buộc chưa trả lời:" in unanswered and "• <b>1.2</b>" in unanswered
    assert "<b>1.1</b>" not in unanswered and "• <b>1.1</b> Ban hành kế hoạch" in lacking
    [[button]] = reply.choices
    assert "Đến mục còn thiếu đầu tiên" in button.label
    await lan.command("checklist")
    assert "Ban hành kế hoạch" not in lan.text_out  # the chat is further on, at 1.2
    await lan.press(button.token)
    assert "Ban hành kế hoạch" in lan.text_out


def test_gaps_past_ten_end_with_and_n_more() -> None:
    from bot.outbox_render import render_gaps
    from storage.services.report_gaps import GapItem, ReportGaps, gaps_param, short_title

    items = [GapItem(i, f"1.{i}", f"Tiêu chí số {i}") for i in range(1, 14)]
    text = render_gaps(CATALOG, "vi", gaps_param(ReportGaps(unanswered=items, lacking=items[:1])))
    assert text.count("• ") == 11 and "<b>1.10</b>" in text and "<b>1.11</b>" not in text
    assert "… và 3 mục khác" in text and "Mục còn thiếu tài liệu kiểm chứng:" in text
    assert "… and 3 more" in render_gaps(CATALOG, "en", gaps_param(ReportGaps(unanswered=items)))
    assert short_title("Kế hoạch " * 20).endswith("…") and len(short_title("x " * 60)) <= 49


async def test_a_clock_jump_sends_what_fell_due_at_its_own_time_in_order(world, db, clock):
    # Issue 19: the demo's "to the deadline" jumps days at once; each message carries the
    # time it was due (the web chat shows it), and they are delivered in that order.
    from bot.channels.web import WebChannel
    from common.localtime import fmt_datetime

    clock.set(DEADLINE - timedelta(days=4))
    await _plan(db, clock)
    clock.set(DEADLINE + timedelta(minutes=1))  # one jump, over U2's deadline and U1's
    await _plan(db, clock)
    rows = [r for r in await _rows(db) if r.created_at == clock.now()]
    dues = sorted({r.not_before for r in rows})
    assert len(dues) >= 2 and all(d < clock.now() for d in dues)
    assert dues[-1] == DEADLINE  # "Đã đến hạn nộp", at the deadline itself
    assert all(r.params["_due"] == r.not_before.isoformat() for r in rows)
    web = WebChannel(clock=clock, timezone="Asia/Ho_Chi_Minh")
    render = make_renderer(CATALOG)
    account = ChatAccount(platform="web", user_id="x", chat_id="x", language_hint="vi")
    ordered = sorted(rows, key=lambda r: (r.not_before, r.id))  # the delivery worker's order
    for row in ordered:
        await web.send("x", render(row, account, None))
    tz = "Asia/Ho_Chi_Minh"
    assert [m.time for m in web.history("x")] == [fmt_datetime(r.not_before, tz) for r in ordered]
    assert fmt_datetime(clock.now(), tz) not in {m.time for m in web.history("x")}

"""Joining with invite codes, languages, help, and answers to the unexpected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from common.clock import FrozenClock
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.services.invites import revoke_invite
from tests import factories
from tests.chat_harness import Chat, import_and_codes, make_deps
from tests.conftest import Db


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path):
    codes = await import_and_codes(db, clock, factories.campaign())
    dispatcher = Dispatcher(make_deps(db, clock, tmp_path))
    return codes, dispatcher


async def test_start_with_a_code_greets_with_unit_campaign_and_local_deadline(world, clock):
    codes, dispatcher = world
    chat = Chat(dispatcher, clock, name="Trần Văn Bình")
    await chat.command("start", codes["U2"][0])
    assert "Trần Văn Bình" in chat.text_out
    assert "Ủy ban nhân dân Phường 2" in chat.text_out
    assert "Kiểm tra công tác CCHC - thử nghiệm" in chat.text_out
    assert "28/09/2021 17:00" in chat.text_out  # U2's own deadline, in Asia/Ho_Chi_Minh
    assert chat.button("Bắt đầu")


async def test_english_when_telegram_says_so(world, clock):
    codes, dispatcher = world
    chat = Chat(dispatcher, clock, language="en-US")
    await chat.command("start", codes["U1"][0])
    assert "You are now linked to" in chat.text_out
    assert chat.button("Start answering")


@pytest.mark.parametrize("typed", ["", "hello"])
async def test_new_person_without_code_is_told_to_send_one(world, clock, typed):
    _, dispatcher = world
    chat = Chat(dispatcher, clock)
    if typed:
        await chat.text(typed)
    else:
        await chat.command("start")
    assert "mã mời" in chat.text_out


async def test_code_typed_as_plain_text_links_too(world, clock):
    codes, dispatcher = world
    chat = Chat(dispatcher, clock)
    code = codes["U1"][0]
    await chat.text(f"{code[:4].lower()}-{code[4:8]} {code[8:]}")
    assert "Ủy ban nhân dân Phường 1" in chat.text_out


async def test_used_expired_revoked_and_unknown_codes_say_why(world, db, clock):
    codes, dispatcher = world
    first, second = Chat(dispatcher, clock), Chat(dispatcher, clock)
    await first.command("start", codes["U1"][0])
    await second.command("start", codes["U1"][0])
    assert "đã được người khác sử dụng" in second.text_out
    await first.command("start", codes["U1"][0])
    assert "đã liên kết bằng mã này" in first.text_out
    await second.command("start", "NOTACODE")
    assert "không đúng" in second.text_out
    async with transaction(db.sessions) as session:
        await revoke_invite(session, codes["U2"][0], now=clock.now())
    await second.command("start", codes["U2"][0])
    assert "thu hồi" in second.text_out
    clock.advance(timedelta(days=31))
    await second.command("start", codes["U3"][0])
    assert "hết hạn" in second.text_out


async def test_wrong_codes_are_slowed_down_per_chat(world, clock):
    codes, dispatcher = world
    guesser, other = Chat(dispatcher, clock), Chat(dispatcher, clock)
    for n in range(5):
        await guesser.command("start", f"WRONGCODE{n:04d}")
        assert "không đúng" in guesser.text_out
    await guesser.command("start", codes["U1"][0])  # even a right code waits
    assert "thử lại sau 10 phút" in guesser.text_out
    await other.command("start", codes["U1"][0])  # another chat is not affected
    assert "Ủy ban nhân dân Phường 1" in other.text_out
    clock.advance(timedelta(minutes=10, seconds=1))
    await guesser.command("start", codes["U1"][1])
    assert "Ủy ban nhân dân Phường 1" in guesser.text_out


async def test_team_leader_code(world, clock):
    codes, dispatcher = world
    leader = Chat(dispatcher, clock)
    await leader.command("start", codes["team_leader:D1"][0])
    assert "Trưởng đoàn" in leader.text_out
    await leader.command("checklist")
    assert "dành cho cán bộ đầu mối" in leader.text_out
    await leader.command("status")
    assert "Đã nộp 0/3" in leader.text_out


async def test_lang_switches_and_is_remembered(world, clock):
    codes, dispatcher = world
    chat = Chat(dispatcher, clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("lang")
    await chat.press_label("English")
    assert "Switched to English" in chat.text_out
    await chat.command("help")
    assert "Unit contact" in chat.text_out and "/checklist" in chat.text_out


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (lambda c: c.command("frobnicate"), "Không có lệnh /frobnicate"),
        (lambda c: c.sticker(), "chưa xử lý được loại tin nhắn này"),
        (lambda c: c.press("zz:1"), "Nút này đã cũ"),
        (lambda c: c.press("v:999999:y"), "Nút này đã cũ"),
        (lambda c: c.press("c:abc"), "Nút này đã cũ"),
        (lambda c: c.press("x" * 80), "Nút này đã cũ"),
        (lambda c: c.text("xin chào"), "không có câu hỏi nào đang chờ"),
        (lambda c: c.file("a.pdf", b"%PDF"), "trước hết hãy mở mục"),
    ],
)
async def test_unexpected_input_gets_a_helpful_answer(world, clock, action, expected):
    codes, dispatcher = world
    chat = Chat(dispatcher, clock)
    await chat.command("start", codes["U1"][0])
    await action(chat)
    assert expected in chat.text_out


async def test_an_error_in_one_chat_gets_an_apology_and_stops_no_one_else(
    world, clock, monkeypatch
):
    codes, dispatcher = world
    broken, fine = Chat(dispatcher, clock), Chat(dispatcher, clock)
    await broken.command("start", codes["U1"][0])
    await fine.command("start", codes["U2"][0])

    async def explode(turn):
        if turn.account.user_id == broken.user_id:
            raise RuntimeError("boom")
        turn.say("ok")

    monkeypatch.setitem(__import__("handlers.dispatcher").dispatcher.COMMANDS, "status", explode)
    await broken.command("status")
    assert "Xin lỗi, đã có lỗi" in broken.text_out and "Traceback" not in broken.text_out
    await fine.command("status")
    assert fine.text_out == "ok"


async def test_person_typed_html_is_escaped(world, clock):
    _, dispatcher = world
    chat = Chat(dispatcher, clock)
    await chat.command("start", "<b>&")
    assert "&lt;b&gt;&amp;" in chat.text_out and "<b>&" not in chat.text_out


async def test_joining_after_the_deadline_says_the_report_is_overdue(world, clock):
    """Issue 19: the greeting of a unit contact who joins late says the report is overdue."""
    codes, dispatcher = world
    early = Chat(dispatcher, clock)
    await early.command("start", codes["U1"][0])
    assert "quá hạn" not in early.text_out
    clock.set(factories.DEADLINE + timedelta(hours=1))
    late = Chat(dispatcher, clock)
    await late.command("start", codes["U2"][0])
    assert "Báo cáo của đơn vị đã quá hạn" in late.text_out and "28/09/2021 17:00" in late.text_out
    leader = Chat(dispatcher, clock)
    await leader.command("start", codes["team_leader:D1"][0])
    assert "quá hạn" not in leader.text_out


async def test_someone_without_a_display_name_is_named_by_role_and_unit(world, db, clock):
    """Issue 19: no empty name in answer histories or exports: role and unit instead."""
    from sqlalchemy import select

    from storage.db.models import Assignment, Person, Unit

    codes, dispatcher = world
    nameless = Chat(dispatcher, clock, name="")
    await nameless.command("start", codes["U1"][0])
    await nameless.command("checklist")
    await nameless.text("31/12/2020")
    named = Chat(dispatcher, clock, name="Lê Văn Tâm")
    await named.command("start", codes["U1"][1])
    async with db.sessions() as session:
        names = sorted(await session.scalars(select(Person.full_name)))
        assignment = await session.scalar(select(Assignment.id).join(Unit).where(Unit.code == "U1"))
    assert names == ["Cán bộ đầu mối – Ủy ban nhân dân Phường 1", "Lê Văn Tâm"]
    leader = Chat(dispatcher, clock, name="Trưởng đoàn A")
    await leader.command("start", codes["team_leader:D1"][0])
    await leader.press(f"ua:{assignment}:0")
    assert "Cán bộ đầu mối – Ủy ban nhân dân Phường 1" in leader.text_out


async def test_a_second_code_for_another_unit_asks_before_moving_the_chat(world, db, clock):
    """Issue 19: the chat moved silently to the second code's unit."""
    from sqlalchemy import select

    from storage.db.models import Invite

    codes, dispatcher = world
    chat = Chat(dispatcher, clock)
    await chat.command("start", codes["U1"][0])
    await chat.command("start", codes["U2"][0])
    assert "Mã này dành cho <b>Ủy ban nhân dân Phường 2</b>" in chat.text_out
    assert "Ủy ban nhân dân Phường 1</b> vẫn được giữ nguyên" in chat.text_out
    await chat.press_label("Hủy")
    assert "Mã chưa được dùng" in chat.text_out
    async with db.sessions() as session:
        used = await session.scalar(select(Invite.used_by).where(Invite.code == codes["U2"][0]))
    assert used is None
    await chat.command("start", codes["U2"][0])
    await chat.press_label("Chuyển sang đơn vị mới")
    assert "Bạn đã được liên kết với <b>Ủy ban nhân dân Phường 2</b>" in chat.text_out
    await chat.command("start", codes["U1"][0])  # one's own code again: no question
    assert "Mã này dành cho" not in chat.text_out

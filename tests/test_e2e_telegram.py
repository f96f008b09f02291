"""End to end: the real aiogram adapter, the real bot runner, a fake Bot API over HTTP.

A unit contact joins with a code, answers every item type with evidence, stops; the bot
restarts; they resume and submit; the team leader gets the alert through the outbox.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.app import open_app
from bot.runner import run_bot
from bot.settings import Settings
from common.clock import FrozenClock
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedCall

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n"


class Person:
    """A Telegram user driving the fake: sends, presses buttons by label, waits for replies."""

    def __init__(self, fake: FakeTelegram, user: FakeUser) -> None:
        self.fake, self.user = fake, user

    @property
    def chat(self) -> int:
        return self.user.chat

    async def expect(self, fragment: str, since: int) -> RecordedCall:
        return await self.fake.wait_for(
            lambda c: (
                c.ok and c.method in ("sendMessage", "editMessageText") and fragment in c.text
            ),
            timeout=10,
            since=since,
            chat_id=self.chat,
        )

    async def command(self, command: str, args: str, expect: str) -> RecordedCall:
        mark = self.fake.mark()
        self.fake.send_command(self.user, command, args)
        return await self.expect(expect, mark)

    async def text(self, text: str, expect: str) -> RecordedCall:
        mark = self.fake.mark()
        self.fake.send_text(self.user, text)
        return await self.expect(expect, mark)

    async def document(self, data: bytes, name: str, expect: str) -> RecordedCall:
        mark = self.fake.mark()
        self.fake.send_document(self.user, data, name)
        return await self.expect(expect, mark)

    async def press(self, label: str, expect: str) -> RecordedCall:
        data = self._button(label)
        mark = self.fake.mark()
        self.fake.press(self.user, data)
        return await self.expect(expect, mark)

    def _button(self, label: str) -> str:
        for call in reversed(self.fake.calls_to(chat_id=self.chat, ok_only=True)):
            for row in (call.reply_markup or {}).get("inline_keyboard", []):
                for button in row:
                    if label in button["text"]:
                        return str(button["callback_data"])
        raise AssertionError(f"no button {label!r} in chat {self.chat}")


@asynccontextmanager
async def running_bot(settings: Settings, clock: FrozenClock) -> AsyncIterator[None]:
    app = await open_app(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(run_bot(app, stop=stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await app.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_old_keyboards_are_taken_off_once_the_conversation_moves_on(
    db: Db, clock: FrozenClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    # Issue 19: a typed answer brings a new card; the earlier card's buttons go away.
    codes = await import_and_codes(db, clock, factories.campaign())
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(501, first_name="Lan"))
    async with running_bot(settings, clock):
        await fake.wait_polling()
        await lan.command("start", codes["U1"][0], "Ủy ban nhân dân Phường 1")
        card = await lan.press("Bắt đầu", "Mục 1/7")
        card_id = card.result_message_id or int(card.params["message_id"])
        stored = fake.message(lan.chat, card_id)
        assert stored is not None and stored.reply_markup  # the card has its buttons
        mark = fake.mark()
        await lan.text("31/12/2020", "tài liệu kiểm chứng")
        removed = await fake.wait_for(
            lambda c: (
                c.ok
                and c.method == "editMessageReplyMarkup"
                and int(c.params["message_id"]) == card_id
            ),
            timeout=10,
            since=mark,
            chat_id=lan.chat,
        )
        assert not removed.reply_markup
        stored = fake.message(lan.chat, card_id)
        assert stored is not None and not stored.reply_markup
        # The new message keeps its buttons, and pressing one works.
        await lan.press("Tiếp tục", "Mục 2/7")


async def test_join_answer_restart_resume_submit_and_leader_alert(
    db: Db, clock: FrozenClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(501, first_name="Lan", last_name="Nguyễn"))
    leader = Person(fake, fake.user(900, first_name="Trưởng", last_name="Đoàn"))

    async with running_bot(settings, clock):
        await fake.wait_polling()
        await leader.command("start", codes["team_leader:D1"][0], "Trưởng đoàn")
        await lan.command("start", codes["U1"][0], "Ủy ban nhân dân Phường 1")
        await lan.press("Bắt đầu", "Mục 1/7")
        await lan.text("31/12/2020", "tài liệu kiểm chứng")
        await lan.document(PDF, "ke-hoach-cchc-2021.pdf", "Đã nhận «ke-hoach-cchc-2021.pdf»")
        await lan.press("Tiếp tục", "Mục 2/7")
        await lan.press("Có", "Đã lưu mục 1.2: Có")
    # The process stops half way; a new one continues the same conversation.
    async with running_bot(settings, clock):
        await fake.wait_polling()
        await lan.press("Giải trình", "Nhập giải trình")
        await lan.text("Văn bản <giấy> & chưa số hóa", "Mục 3/7")
        await lan.text("150", "⚠️")
        await lan.text("96,5", "Đã lưu mục 1.3: 96,5%")
        await lan.text("0", "Mục 5/7")
        await lan.press("Đã áp dụng", "Tiếp tục")
        await lan.press("Tiếp tục", "Mục 6/7")
        toggled = await lan.press("Chữ ký số", "Mục 6/7")
        assert "☑ Chữ ký số" in str(toggled.reply_markup)
        await lan.press("Xong", "Mục 7/7")
        await lan.text("Đề nghị bổ sung biên chế", "Báo cáo đã đủ để nộp")
        await lan.press("Nộp báo cáo", "Nộp báo cáo của")
        await lan.press("Xác nhận", "Đã nộp báo cáo")
        alert = await leader.expect("đã nộp báo cáo", 0)
        assert "Ủy ban nhân dân Phường 1" in alert.text and "7/7" in alert.text
        # The leader opens the unit from the alert and gets the evidence back, then the
        # summary with its chart: a real document and a real photo through the Bot API.
        await leader.press("Xem đơn vị", "đã nộp")
        await leader.press("Tài liệu kiểm chứng", "Tài liệu kiểm chứng của")
        mark = fake.mark()
        fake.press(leader.user, leader._button("ke-hoach-cchc-2021.pdf"))
        await fake.wait_for(
            lambda c: c.method == "sendDocument" and c.ok,
            timeout=10,
            since=mark,
            chat_id=leader.chat,
        )
        [document] = fake.documents(leader.chat)
        assert document.data == PDF and document.file_name == "ke-hoach-cchc-2021.pdf"
        mark = fake.mark()
        fake.send_command(leader.user, "summary")
        await fake.wait_for(
            lambda c: c.method == "sendPhoto" and c.ok, timeout=20, since=mark, chat_id=leader.chat
        )
        [photo] = fake.photos(leader.chat)
        assert photo.data[:8] == b"\x89PNG\r\n\x1a\n"
        await leader.expect("Đã nộp 1/3", mark)
    refused = [c for c in fake.calls if not c.ok and c.method != "getUpdates"]
    assert refused == [], [(c.method, c.response) for c in refused]
    assert fake.unanswered_callbacks() == []
    assert fake.file_bytes  # the document was really fetched through getFile
    stored = list((tmp_path / "evidence").rglob("*ke-hoach-cchc-2021.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == PDF


async def test_reminders_minutes_ahead_arrive_in_order_through_429s_and_a_blocked_user(
    db: Db, clock: FrozenClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    from dataclasses import replace
    from datetime import timedelta

    from sqlalchemy import select, update

    from common.clock import MovableClock
    from schedules.scheduler import Jobs, run_reminders
    from storage.db.models import ChatAccount, Submission
    from storage.formats.campaign_spec import ReminderPolicy

    # Delivery paces and pauses on the clock, so this one keeps ticking between the jumps.
    clock = MovableClock(clock.now())
    deadline = clock.now() + timedelta(minutes=30)
    spec = replace(
        factories.campaign(units=2),
        deadline=deadline,
        policy=ReminderPolicy(
            reminders=(timedelta(minutes=20), timedelta(minutes=10)), escalate_after=None
        ),
    )
    spec = replace(spec, units=tuple(replace(u, deadline=None, visit=None) for u in spec.units))
    codes = await import_and_codes(db, clock, spec)
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(601, first_name="Lan"))
    gone = Person(fake, fake.user(602, first_name="Gone"))
    jobs = Jobs(db.sessions, clock)
    async with running_bot(settings, clock):
        await fake.wait_polling()
        await lan.command("start", codes["U1"][0], "Ủy ban nhân dân Phường 1")
        await gone.command("start", codes["U2"][0], "Ủy ban nhân dân Phường 2")
        await run_reminders(jobs)  # nothing due yet
        fake.block(gone.chat)
        fake.fail_next(3, status=429, retry_after=1)  # a 429 storm on the next sends
        mark = fake.mark()
        for minutes in (11, 21):
            clock.set(deadline - timedelta(minutes=30) + timedelta(minutes=minutes))
            await run_reminders(jobs)
            await lan.expect("Nhắc hạn nộp báo cáo", mark)
            mark = fake.mark()
        await fake.wait_until(lambda: len(fake.calls_to("sendMessage", gone.chat)) >= 2)
        async with transaction_for(db) as session:
            await session.execute(update(Submission).values(status="submitted"))
        clock.set(deadline + timedelta(days=2))
        assert await run_reminders(jobs) == 0  # none after submission
    reminders = [t for t in fake.texts(lan.chat) if "Nhắc hạn" in t]
    assert len(reminders) == 2  # in order, once each, despite three 429s
    assert fake.stats.rate_limited >= 3
    async with db.sessions() as session:
        blocked = await session.scalar(
            select(ChatAccount).where(ChatAccount.user_id == str(gone.user.user_id))
        )
        assert blocked is not None and blocked.unreachable_at is not None


def transaction_for(db: Db):
    from storage.db import transaction

    return transaction(db.sessions)

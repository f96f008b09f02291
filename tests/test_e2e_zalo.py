"""End to end on Zalo: the real channel (httpx) and runner against a local fake Zalo Bot API.

A unit contact joins by typing the code, answers every item type by typing (numbers for
the choices), sends a photo as evidence, stops; the bot restarts; they resume and submit;
the team leader gets the alert on Zalo. No message carries markup or exceeds 2000
characters. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.app import open_app
from bot.runner import run_bot
from bot.settings import Settings
from common.clock import FrozenClock, MovableClock
from schedules.scheduler import Jobs, run_reminders
from storage.db import transaction
from storage.db.models import ChatAccount, OutboxMessage, Submission
from storage.formats.campaign_spec import ReminderPolicy
from tests import factories
from tests.chat_harness import CATALOG, import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, free_port
from tests.fake_zalo import FakeZalo, ZaloCall, ZaloUser

# A real (tiny) JPEG: the evidence content check reads its magic bytes.
JPEG = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")
MARKUP = re.compile(r"</?(b|i|code|a|u|s|pre)\b[^>]*>|&(lt|gt|amp|quot|#\d+);")


class Person:
    """Someone on Zalo: types, picks numbered choices by label, waits for the bot's reply."""

    def __init__(self, fake: FakeZalo, user: ZaloUser) -> None:
        self.fake, self.user = fake, user

    async def expect(self, fragment: str, since: int, timeout: float = 10) -> ZaloCall:
        chat = self.user.chat
        try:
            return await self.fake.wait_for(
                lambda c: (
                    c.ok and c.method == "sendMessage" and c.chat_id == chat and fragment in c.text
                ),
                since=since,
                timeout=timeout,
            )
        except TimeoutError:
            seen = [(c.method, c.ok, c.text[:300]) for c in self.fake.calls[since:]]
            raise AssertionError(f"no {fragment!r} for {chat}; since then: {seen}") from None

    async def text(self, text: str, expect: str, timeout: float = 10) -> ZaloCall:
        mark = self.fake.mark()
        self.fake.send_text(self.user, text)
        return await self.expect(expect, mark, timeout)

    async def pick(self, label: str, expect: str) -> ZaloCall:
        return await self.text(self.number(label), expect)

    async def photo(self, data: bytes, expect: str) -> ZaloCall:
        mark = self.fake.mark()
        self.fake.send_photo(self.user, data)
        return await self.expect(expect, mark)

    def number(self, label: str) -> str:
        """What to type for the choice `label` of the latest numbered list ("2" or "#2")."""
        for text in reversed(self.fake.texts(self.user.chat)):
            for line in text.splitlines():
                match = re.match(r"^(#?\d+)\. (.*)$", line)
                if match and label in match.group(2):
                    return match.group(1)
        raise AssertionError(f"no choice {label!r} in chat {self.user.chat}")


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
async def fake() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as server:
        yield server


def zalo_settings(fake: FakeZalo, db: Db, tmp_path: Path) -> Settings:
    return Settings(
        zalo_bot_token=SecretStr(fake.token),
        zalo_bot_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )


def replace_settings(settings: Settings, **changes: object) -> Settings:
    return settings.model_copy(update=changes)


def assert_plain_and_short(fake: FakeZalo) -> None:
    sent = [c.text for c in fake.calls if c.method == "sendMessage"]
    assert sent and all(1 <= len(t) <= 2000 for t in sent)
    assert [t for t in sent if MARKUP.search(t)] == []


async def test_join_answer_photo_restart_submit_and_leader_alert_on_zalo(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    settings = zalo_settings(fake, db, tmp_path)
    lan = Person(fake, fake.user("7001", "Nguyễn Lan"))
    leader = Person(fake, fake.user("7900", "Trưởng Đoàn"))

    async with running_bot(settings, clock):
        await fake.wait_polling()
        await leader.text(f"/start {codes['team_leader:D1'][0]}", "Trưởng đoàn")
        # Typed without /start, in lower case with spaces: loosely typed codes join too.
        await lan.text(f"  {codes['U1'][0].lower()} ", "Ủy ban nhân dân Phường 1")
        await lan.pick("Bắt đầu", "Mục 1/7")
        await lan.text("31/12/2020", "tài liệu kiểm chứng")
        await lan.photo(JPEG, "Đã nhận")
        await lan.pick("Tiếp tục", "Mục 2/7")
        await lan.pick("Có", "Đã lưu mục 1.2: Có")
    # The process stops half way; a new one continues the same conversation.
    async with running_bot(settings, clock):
        await fake.wait_polling()
        await lan.pick("Giải trình", "Nhập giải trình")
        await lan.text("Văn bản <giấy> & chưa số hóa", "Mục 3/7")
        await lan.text("150", "⚠️")
        await lan.text("96,5", "Đã lưu mục 1.3: 96,5%")
        await lan.text("0", "Mục 5/7")
        await lan.pick("Đã áp dụng", "Tiếp tục")
        await lan.pick("Tiếp tục", "Mục 6/7")
        await lan.pick("Chữ ký số", "Mục 6/7")
        await lan.pick("Xong", "Mục 7/7")
        await lan.text("Đề nghị bổ sung biên chế", "Báo cáo đã đủ để nộp")
        await lan.pick("Nộp báo cáo", "Nộp báo cáo của")
        await lan.pick("Xác nhận", "Đã nộp báo cáo")
        alert = await leader.expect("đã nộp báo cáo", 0)
        assert "Ủy ban nhân dân Phường 1" in alert.text and "7/7" in alert.text
        await lan.text("/status", "7/7")
        mark = fake.mark()
        fake.send_sticker(lan.user)
        sticker = await lan.expect("Tôi đọc được chữ và ảnh", mark)
        assert "tệp tài liệu" not in sticker.text  # Zalo carries no documents
    refused = [c for c in fake.calls if not c.ok and c.method != "getUpdates"]
    assert refused == [], [(c.method, c.params) for c in refused]
    assert_plain_and_short(fake)
    assert any(c.method == "sendChatAction" for c in fake.calls)
    stored = list((tmp_path / "evidence").rglob("*.jpg"))
    assert len(stored) == 1 and stored[0].read_bytes() == JPEG


async def test_a_redelivered_zalo_event_is_handled_once(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    lan = Person(fake, fake.user("7002", "Lan"))
    async with running_bot(zalo_settings(fake, db, tmp_path), clock):
        await fake.wait_polling()
        await lan.text(f"/start {codes['U1'][0]}", "Ủy ban nhân dân Phường 1")
        mark = fake.mark()
        event = fake.send_text(lan.user, lan.number("Bắt đầu"))
        await lan.expect("Mục 1/7", mark)
        fake.resend(event)
        await lan.text("/status", "0/7")
    assert sum("Mục 1/7" in t for t in fake.texts(lan.user.chat)) == 1


async def test_reminders_on_zalo_through_quota_errors_and_a_blocked_person(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    clock = MovableClock(clock.now())  # delivery paces on the clock: it keeps ticking
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
    lan = Person(fake, fake.user("7101", "Lan"))
    gone = Person(fake, fake.user("7102", "Gone"))
    jobs = Jobs(db.sessions, clock)
    async with running_bot(zalo_settings(fake, db, tmp_path), clock):
        await fake.wait_polling()
        await lan.text(f"/start {codes['U1'][0]}", "Ủy ban nhân dân Phường 1")
        await gone.text(f"/start {codes['U2'][0]}", "Ủy ban nhân dân Phường 2")
        fake.block(gone.user.chat)
        fake.fail_next(2)  # 429 "Quota exceeded" on the next two sends
        mark = fake.mark()
        for minutes in (11, 21):
            clock.set(deadline - timedelta(minutes=30) + timedelta(minutes=minutes))
            await run_reminders(jobs)
            await lan.expect("Nhắc hạn nộp báo cáo", mark)
            mark = fake.mark()
        await fake.wait_until(
            lambda: any(
                c.method == "sendMessage" and c.chat_id == gone.user.chat and not c.ok
                for c in fake.calls
            ),
            timeout=20,
        )
        async with transaction(db.sessions) as session:
            await session.execute(update(Submission).values(status="submitted"))
        clock.set(deadline + timedelta(days=2))
        assert await run_reminders(jobs) == 0
    reminders = [t for t in fake.texts(lan.user.chat) if "Nhắc hạn" in t]
    assert len(reminders) == 2
    assert fake.rate_limited == 2
    async with db.sessions() as session:
        blocked = await session.scalar(
            select(ChatAccount).where(
                ChatAccount.platform == "zalo", ChatAccount.user_id == gone.user.user_id
            )
        )
        assert blocked is not None and blocked.unreachable_at is not None


async def test_a_person_on_both_channels_gets_reminders_where_last_seen_then_on_the_other(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    clock = MovableClock(clock.now())
    deadline = clock.now() + timedelta(minutes=30)
    spec = replace(
        factories.campaign(units=1),
        deadline=deadline,
        policy=ReminderPolicy(
            reminders=(timedelta(minutes=20), timedelta(minutes=10)), escalate_after=None
        ),
    )
    spec = replace(spec, units=tuple(replace(u, deadline=None, visit=None) for u in spec.units))
    codes = await import_and_codes(db, clock, spec)
    lan = Person(fake, fake.user("7201", "Lan"))
    jobs = Jobs(db.sessions, clock)
    async with FakeTelegram() as telegram:
        settings = replace_settings(
            zalo_settings(fake, db, tmp_path),
            bot_token=SecretStr(telegram.token),
            telegram_api_url=telegram.base_url,
            bot_username="cchc_test_bot",
        )
        async with running_bot(settings, clock):
            await fake.wait_polling()
            await telegram.wait_polling()
            telegram.send_command(7201, "start", codes["U1"][0])
            await telegram.wait_for(lambda c: "Ủy ban nhân dân Phường 1" in c.text, chat_id=7201)
            mark = telegram.mark()
            telegram.send_command(7201, "link")
            shown = await telegram.wait_for(lambda c: "/link " in c.text, chat_id=7201, since=mark)
            code = re.search(r"/link ([A-Z0-9]{4}-[A-Z0-9]{4})", shown.text)
            assert code is not None
            await lan.text(f"/link {code.group(1)}", "Đã liên kết Zalo với Telegram")
            # Zalo is the channel Lan used last: the first reminder goes there.
            mark, tg_mark = fake.mark(), telegram.mark()
            clock.set(deadline - timedelta(minutes=19))
            await run_reminders(jobs)
            await lan.expect("Nhắc hạn nộp báo cáo", mark)
            # Lan blocks the Zalo bot: the next reminder fails there and goes to Telegram.
            fake.block(lan.user.chat)
            clock.set(deadline - timedelta(minutes=9))
            await run_reminders(jobs)
            await telegram.wait_for(
                lambda c: "Nhắc hạn nộp báo cáo" in c.text, chat_id=7201, since=tg_mark, timeout=20
            )
    on_zalo = [c for c in fake.calls if c.chat_id == lan.user.chat and "Nhắc hạn" in c.text]
    assert [c.ok for c in on_zalo] == [True, False]  # the second was refused: blocked
    assert sum("Nhắc hạn" in t for t in telegram.texts(7201)) == 1
    async with db.sessions() as session:
        sent = list(
            await session.execute(
                select(ChatAccount.platform, OutboxMessage.status)
                .join(ChatAccount, ChatAccount.id == OutboxMessage.chat_account_id)
                .where(OutboxMessage.kind == "reminder")
                .order_by(OutboxMessage.id)
            )
        )
    assert [tuple(r) for r in sent] == [("zalo", "sent"), ("telegram", "sent")]


async def test_the_leaders_chart_goes_as_a_photo_from_a_signed_expiring_public_link(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    leader = Person(fake, fake.user("7300", "Trưởng Đoàn"))
    caption = CATALOG.t("vi", "team.chart_caption")  # the chart's caption, sent as text
    # Without PUBLIC_URL: the summary's text alone.
    async with running_bot(zalo_settings(fake, db, tmp_path), clock):
        await fake.wait_polling()
        await leader.text(f"/start {codes['team_leader:D1'][0]}", "Trưởng đoàn")
        await leader.text("/summary", caption, timeout=60)  # matplotlib's first chart
    assert [c for c in fake.calls if c.method == "sendPhoto"] == []
    port = free_port()
    settings = replace_settings(
        zalo_settings(fake, db, tmp_path),
        web_port=port,
        web_host="127.0.0.1",
        public_url=f"http://127.0.0.1:{port}",
    )
    async with running_bot(settings, clock), httpx.AsyncClient() as client:
        await fake.wait_polling()
        mark = fake.mark()
        fake.send_text(leader.user, "/summary")
        photo = await fake.wait_for(lambda c: c.method == "sendPhoto", since=mark, timeout=60)
        assert photo.ok and photo.chat_id == leader.user.chat
        await leader.expect(caption, mark)
        url = str(photo.params["photo"])
        assert url.startswith(f"http://127.0.0.1:{port}/zalo-media/")
        assert (await client.get(url)).status_code == 200
        forged = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert (await client.get(forged)).status_code == 404
        clock.advance(timedelta(hours=1, seconds=1))
        assert (await client.get(url)).status_code == 404  # expired
    assert len(fake.photos_sent) == 1
    chat, data = fake.photos_sent[0]
    assert chat == leader.user.chat and data.startswith(b"\x89PNG")

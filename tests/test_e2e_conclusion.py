"""End to end through the fake Bot API (SQLite and PostgreSQL): the leader records and
issues a conclusion, the notice document arrives in the contact's chat (sendDocument), the
contact reports one fix with evidence, and gets a reminder for the other before its due
date."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from pydantic import SecretStr
from sqlalchemy import update

from bot.settings import Settings
from common.clock import FrozenClock, MovableClock
from schedules.scheduler import Jobs, run_reminders
from storage.db import transaction
from storage.db.models import Submission
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram
from tests.test_e2e_telegram import PDF, Person, fake, running_bot  # noqa: F401


async def test_conclusion_document_fix_report_and_reminder(
    db: Db,
    clock: FrozenClock,
    fake: FakeTelegram,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = MovableClock(clock.now())  # delivery paces on it: it keeps ticking
    codes = await import_and_codes(db, clock, factories.campaign())
    async with transaction(db.sessions) as session:  # the review is done: accepted
        await session.execute(update(Submission).values(status="accepted"))
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(701, first_name="Lan"))
    leader = Person(fake, fake.user(901, first_name="Minh"))
    async with running_bot(settings, clock):
        await fake.wait_polling()
        await leader.command("start", codes["team_leader:D1"][0], "Trưởng đoàn")
        await lan.command("start", codes["U1"][0], "Ủy ban nhân dân Phường 1")
        await leader.command("summary", "", "Đã nộp")
        await leader.press("UBND Phường 1", "Ủy ban nhân dân Phường 1")  # short name
        await leader.press("Kết luận", "Chưa có nội dung")
        await leader.press("Ghi ưu điểm", "ưu điểm")
        await leader.text("Chỉ đạo, điều hành CCHC sát sao", "Đã lưu")
        for text, fix in (
            ("Chưa niêm yết thủ tục hành chính tại bộ phận một cửa", "Niêm yết đầy đủ TTHC"),
            ("Chưa cập nhật cổng thông tin điện tử", "Cập nhật cổng thông tin"),
        ):
            await leader.press("Thêm tồn tại", "Bước 1/3")
            await leader.text(text, "Bước 2/3")
            await leader.text(fix, "Bước 3/3")
            await leader.press("Hạn 16/09/2021", "Đã lưu")
        await leader.press("Ban hành", "2 tồn tại")
        mark = fake.mark()
        fake.press(leader.user, leader._button("Xác nhận ban hành"))
        issued = await fake.wait_for(
            lambda c: c.method == "sendDocument" and c.ok,
            timeout=15,
            since=mark,
            chat_id=leader.chat,
        )
        assert "Đã ban hành" in issued.text
        await fake.wait_for(
            lambda c: c.method == "sendDocument" and c.ok, timeout=15, since=mark, chat_id=lan.chat
        )
        [notice] = fake.documents(lan.chat)
        assert notice.file_name.endswith(".docx")
        assert "Thông báo kết luận kiểm tra CCHC" in (notice.caption or "")
        text = "\n".join(p.text for p in Document(io.BytesIO(notice.data)).paragraphs)
        assert "Ủy ban nhân dân Phường 1" in text
        assert "Chưa niêm yết thủ tục hành chính" in text and "16/09/2021" in text
        # The contact reports the first fix with evidence.
        await lan.press("Việc cần khắc phục", "0/2 tồn tại đã khắc phục")
        await lan.press("1. Chưa niêm yết", "Yêu cầu khắc phục")
        await lan.press("Báo cáo kết quả", "những việc đã làm")
        await lan.text("Đã niêm yết 125 TTHC tại bộ phận một cửa", "Gửi tài liệu kiểm chứng")
        await lan.document(PDF, "anh-niem-yet.pdf", "Đã nhận «anh-niem-yet.pdf»")
        mark = fake.mark()
        await lan.press("Đánh dấu đã khắc phục", "Đã báo cáo tồn tại 1")
        await leader.expect("báo cáo đã khắc phục tồn tại 1", mark)
        # Three days before the due date: a reminder of the other fix only.
        jobs = Jobs(db.sessions, clock)
        await run_reminders(jobs)
        mark = fake.mark()
        clock.set(datetime(2021, 9, 13, 10, 1, tzinfo=UTC))  # 13/09 17:01 local
        assert await run_reminders(jobs) >= 1
        reminder = await lan.expect("Nhắc hạn khắc phục", mark)
        assert "tồn tại 2" in reminder.text and "16/09/2021" in reminder.text
        assert await run_reminders(jobs) == 0  # never twice
    texts = fake.texts(lan.chat)
    assert sum("Nhắc hạn khắc phục" in t for t in texts) == 1
    assert not any("Nhắc hạn khắc phục: tồn tại 1" in t for t in texts)
    refused = [c for c in fake.calls if not c.ok and c.method != "getUpdates"]
    assert refused == [], [(c.method, c.response) for c in refused]
    assert fake.unanswered_callbacks() == []
